namespace DataflowVdo.Storage;

/// <summary>What <c>dvdo format</c> decides once for the life of a pool.</summary>
public sealed record FormatParameters
{
    /// <summary>Physical size in blocks; 0 means the whole device.</summary>
    public long PhysicalBlocks { get; init; }

    /// <summary>Thin logical size in blocks; 0 means equal to the physical size.</summary>
    public long LogicalBlocks { get; init; }

    /// <summary>Data blocks per slab (a power of two, 256 .. 2^23). Default 2^15 = 128 MiB.</summary>
    public int SlabBlocks { get; init; } = 1 << 15;

    /// <summary>Blocks in the recovery-journal ring (at least 16). Default 1024 (4 MiB).</summary>
    public int JournalBlocks { get; init; } = 1024;

    /// <summary>
    /// The largest logical size the pool can grow to online (<see cref="Geometry.MaxLogicalBlocks"/>):
    /// the block-map root region is sized for it (one 4 KiB root block per 0.8 GiB of logical
    /// space). 0 = <see cref="DefaultGrowthFactor"/> times the physical size, at least the logical size.
    /// </summary>
    public long MaxLogicalBlocks { get; init; }

    /// <summary>Default growth headroom: the logical size may grow to this many times the physical size (0.13% of it for the root).</summary>
    public const int DefaultGrowthFactor = 256;

    /// <summary>Largest logical size the block map can address.</summary>
    public const long AddressableLogicalBlocks = BlockMapping.MaxPbn * Geometry.EntriesPerPage;

    /// <summary>Slab-journal blocks per slab (VDO: 224); a slab's reference counts are written when its journal is half full.</summary>
    public int SlabJournalBlocks { get; init; } = 224;

    /// <summary>Blocks reserved for the image catalog.</summary>
    public int CatalogBlocks { get; init; } = 64;

    /// <summary>Blocks reserved for saving the dedupe index at clean close; 0 = 1/128 of the pool, at most 16384.</summary>
    public int IndexBlocks { get; init; }

    /// <summary>Returns the first problem with these parameters for a device of <paramref name="deviceBlocks"/> blocks, or null.</summary>
    public string? Validate(long deviceBlocks)
    {
        if (PhysicalBlocks < 0)
            return "physical size must not be negative";
        if (PhysicalBlocks > deviceBlocks)
            return $"physical size {PhysicalBlocks} blocks exceeds the device ({deviceBlocks} blocks)";
        if (LogicalBlocks < 0)
            return "logical size must not be negative";
        if (LogicalBlocks > AddressableLogicalBlocks)
            return "logical size is larger than the block map can address";
        if (MaxLogicalBlocks < 0 || MaxLogicalBlocks > AddressableLogicalBlocks)
            return "largest logical size must be between 0 and what the block map can address";
        if (MaxLogicalBlocks != 0 && MaxLogicalBlocks < LogicalBlocks)
            return $"largest logical size {MaxLogicalBlocks} blocks is below the logical size {LogicalBlocks} blocks";
        if (SlabBlocks < 256 || SlabBlocks > 1 << 23 || (SlabBlocks & (SlabBlocks - 1)) != 0)
            return $"slab size {SlabBlocks} blocks must be a power of two between 256 and 8388608";
        if (JournalBlocks < 16)
            return $"journal size {JournalBlocks} blocks must be at least 16";
        if (SlabJournalBlocks < 16 || SlabJournalBlocks > 65536)
            return $"slab journal of {SlabJournalBlocks} blocks must be between 16 and 65536";
        if (CatalogBlocks < 1)
            return "catalog needs at least one block";
        if (IndexBlocks < 0)
            return "index save region must not be negative";
        return null;
    }
}
