namespace DataflowVdo.Workloads;

/// <summary>
/// The content class of one generated 4 KiB block, as defined in docs/workloads.md.
/// </summary>
public enum BlockKind : byte
{
    /// <summary>4096 zero bytes.</summary>
    Zero,

    /// <summary>4096 bytes from the seeded PRNG; LZ4 stores it raw.</summary>
    Random,

    /// <summary>The next non-zero 4 KiB slice of the corpus.</summary>
    Corpus,

    /// <summary>A byte-for-byte copy of one of the last N new (random or corpus) blocks.</summary>
    Duplicate,
}
