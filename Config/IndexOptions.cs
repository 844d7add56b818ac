namespace DataflowVdo.Config;

/// <summary>Section <c>Index</c>: the dedupe index.</summary>
public sealed class IndexOptions
{
    /// <summary>Memory for index records, in MiB (about 13 K records per MiB).</summary>
    public int MemoryMb { get; set; } = 64;

    /// <summary>Temporal chapters; the oldest is dropped when the index is full.</summary>
    public int Chapters { get; set; } = 64;
}
