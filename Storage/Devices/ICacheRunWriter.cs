namespace DataflowVdo.Storage;

/// <summary>What a <see cref="WriteCache"/> writes its batches to.</summary>
internal unsafe interface ICacheRunWriter
{
    /// <summary>Writes every run (4 KiB-aligned buffers) and returns once all are on the device; throws on failure.</summary>
    void WriteRuns(ReadOnlySpan<CacheRun> runs, Iovec* iovecs);
}
