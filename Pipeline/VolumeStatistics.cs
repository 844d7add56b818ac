using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// A snapshot of the figures <c>vdostats</c> shows, with its <c>--verbose</c> names. Space
/// figures are exact at the moment of the snapshot; cumulative counters survive clean restarts.
/// </summary>
public sealed record VolumeStatistics
{
    /// <summary>4096.</summary>
    public int BlockSize { get; init; } = VdoConstants.BlockSize;
    /// <summary>Size of the pool in blocks.</summary>
    public long PhysicalBlocks { get; init; }
    /// <summary>Thin logical size in blocks.</summary>
    public long LogicalBlocks { get; init; }
    /// <summary>Blocks holding user data (uncompressed blocks and packed blocks), provisional ones included.</summary>
    public long DataBlocksUsed { get; init; }
    /// <summary>Blocks holding metadata: fixed regions, ref counts and allocated block-map pages.</summary>
    public long OverheadBlocksUsed { get; init; }
    /// <summary>Logical blocks mapped (including zero blocks).</summary>
    public long LogicalBlocksUsed { get; init; }
    /// <summary>Free data blocks.</summary>
    public long FreeBlocks { get; init; }
    /// <summary>Percent of logical data not stored thanks to dedupe, compression and zero elimination.</summary>
    public int SavingPercent { get; init; }
    /// <summary>Allocated block-map leaf pages.</summary>
    public long BlockMapPages { get; init; }
    /// <summary>Slabs in the depot.</summary>
    public int SlabCount { get; init; }
    /// <summary>Data blocks per slab.</summary>
    public int SlabBlocks { get; init; }
    /// <summary>Records in the dedupe index.</summary>
    public long IndexEntries { get; init; }
    /// <summary>Capacity of the dedupe index.</summary>
    public long IndexCapacity { get; init; }
    /// <summary>Compressed fragments waiting in the packer.</summary>
    public int PackerFragmentsWaiting { get; init; }
    /// <summary>Journal blocks between the replay start and the open block.</summary>
    public long JournalBlocksInUse { get; init; }
    /// <summary>Blocks in the journal ring.</summary>
    public int JournalBlocks { get; init; }
    /// <summary>True when the volume refuses writes.</summary>
    public bool ReadOnly { get; init; }
    /// <summary>Why the volume is read-only.</summary>
    public string? ReadOnlyReason { get; init; }
    /// <summary>Slab-journal blocks written since the volume was opened.</summary>
    public long SlabJournalBlocksWritten { get; init; }
    /// <summary>Reference-count blocks written since the volume was opened.</summary>
    public long RefCountBlocksWritten { get; init; }
    /// <summary>Block-map leaf pages written since the volume was opened.</summary>
    public long BlockMapPagesWritten { get; init; }
    /// <summary>Metadata blocks written in place (through the double-write area) since the volume was opened.</summary>
    public long MetadataBlocksWritten { get; init; }
    /// <summary>Cumulative counters (writes, dedupe, compression, journal...).</summary>
    public required PersistentCounters Counters { get; init; }

    /// <summary>Blocks stored whole without trying to compress them since open, because compression kept being wasted (<c>Pipeline:CompressionProbeAfter</c>).</summary>
    public long CompressionSkipped { get; init; }

    /// <summary>1K-blocks of the pool (vdostats column).</summary>
    public long OneKBlocks => PhysicalBlocks * (BlockSize / 1024);
    /// <summary>1K-blocks used: data + overhead.</summary>
    public long OneKBlocksUsed => (DataBlocksUsed + OverheadBlocksUsed) * (BlockSize / 1024);
    /// <summary>1K-blocks available.</summary>
    public long OneKBlocksAvailable => FreeBlocks * (BlockSize / 1024);
    /// <summary>Percent of the pool used.</summary>
    public int UsedPercent => PhysicalBlocks == 0 ? 0 : (int)Math.Round(100.0 * (DataBlocksUsed + OverheadBlocksUsed) / PhysicalBlocks);
}
