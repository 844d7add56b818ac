using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>
/// Block 0 of a pool: the layout of every region, fixed at format time.
/// <code>
/// 0 geometry | 1,2 superblock A/B | double-write area | journal ring | slab summary | block-map root | catalog |
/// saved index | slab 0: [ref-count blocks][slab journal][data blocks] | slab 1 ... 
/// </code>
/// </summary>
public sealed record Geometry
{
    /// <summary>Mappings per block-map leaf page (5 bytes each).</summary>
    public const int EntriesPerPage = MetadataBlock.PayloadSize / BlockMapping.EncodedSize; // 812

    /// <summary>Bytes at the start of a ref-count block's payload: the slab-journal sequence and recovery key it reflects.</summary>
    public const int RefCountHeaderSize = 16;

    /// <summary>Reference counts per ref-count block.</summary>
    public const int CountsPerBlock = MetadataBlock.PayloadSize - RefCountHeaderSize; // 4048

    /// <summary>Slab-summary entries per block (8 bytes each).</summary>
    public const int SummaryEntriesPerBlock = MetadataBlock.PayloadSize / 8;

    /// <summary>Superblock copies at blocks 1 and 2, written alternately.</summary>
    public const long SuperBlockStart = 1;

    /// <summary>The double-write area: one descriptor block, then this many block copies.</summary>
    public const int DoubleWriteCopies = 256;

    /// <summary>First block of the double-write area (its descriptor).</summary>
    public const long DoubleWriteStart = SuperBlockStart + 2;

    /// <summary>Random identity of this pool; every metadata block carries it.</summary>
    public required ulong Nonce { get; init; }
    /// <summary>Total blocks of the pool.</summary>
    public required long PhysicalBlocks { get; init; }
    /// <summary>Thin logical size in blocks.</summary>
    public required long LogicalBlocks { get; init; }
    /// <summary>Data blocks per slab.</summary>
    public required int SlabBlocks { get; init; }
    /// <summary>Slab-journal blocks per slab.</summary>
    public required int SlabJournalBlocks { get; init; }
    /// <summary>First block of the journal ring.</summary>
    public required long JournalStart { get; init; }
    /// <summary>Blocks in the journal ring.</summary>
    public required int JournalBlocks { get; init; }
    /// <summary>First slab-summary block.</summary>
    public required long SummaryStart { get; init; }
    /// <summary>Slab-summary blocks.</summary>
    public required int SummaryBlocks { get; init; }
    /// <summary>First block-map root block.</summary>
    public required long RootStart { get; init; }
    /// <summary>Block-map root blocks.</summary>
    public required int RootBlocks { get; init; }
    /// <summary>First catalog block.</summary>
    public required long CatalogStart { get; init; }
    /// <summary>Catalog blocks.</summary>
    public required int CatalogBlocks { get; init; }
    /// <summary>First saved-index block.</summary>
    public required long IndexStart { get; init; }
    /// <summary>Saved-index blocks.</summary>
    public required int IndexBlocks { get; init; }
    /// <summary>First block of slab 0.</summary>
    public required long DepotStart { get; init; }
    /// <summary>Number of slabs.</summary>
    public required int SlabCount { get; init; }

    /// <summary>Ref-count blocks at the start of each slab.</summary>
    public int RefCountBlocksPerSlab => (SlabBlocks + CountsPerBlock - 1) / CountsPerBlock;
    /// <summary>Blocks a slab occupies.</summary>
    public long SlabStride => RefCountBlocksPerSlab + (long)SlabJournalBlocks + SlabBlocks;
    /// <summary>
    /// The largest logical size this pool can grow to: what its block-map root region (fixed at
    /// format) can map.
    /// </summary>
    public long MaxLogicalBlocks => Math.Min(FormatParameters.AddressableLogicalBlocks, (long)RootBlocks * EntriesPerPage * EntriesPerPage);

    /// <summary>Leaf pages needed to map the logical space.</summary>
    public long LeafPages => (LogicalBlocks + EntriesPerPage - 1) / EntriesPerPage;
    /// <summary>Data blocks of all slabs.</summary>
    public long DataBlocks => (long)SlabCount * SlabBlocks;
    /// <summary>Blocks used by fixed metadata (everything that is not a slab data block).</summary>
    public long FixedOverheadBlocks => DepotStart + ((long)SlabCount * (RefCountBlocksPerSlab + SlabJournalBlocks));

    /// <summary>First ref-count block of slab <paramref name="slab"/>.</summary>
    public long RefCountStart(int slab) => DepotStart + slab * SlabStride;
    /// <summary>First slab-journal block of slab <paramref name="slab"/>.</summary>
    public long SlabJournalStart(int slab) => RefCountStart(slab) + RefCountBlocksPerSlab;

    /// <summary>First data block of slab <paramref name="slab"/>.</summary>
    public long SlabDataStart(int slab) => SlabJournalStart(slab) + SlabJournalBlocks;

    /// <summary>True when <paramref name="pbn"/> is a data block of some slab.</summary>
    public bool IsDataBlock(long pbn)
    {
        if (pbn < DepotStart)
            return false;
        var rel = pbn - DepotStart;
        var slab = rel / SlabStride;
        return slab < SlabCount && rel % SlabStride >= RefCountBlocksPerSlab + SlabJournalBlocks;
    }

    /// <summary>Slab and block-within-slab of a data PBN (check <see cref="IsDataBlock"/> first).</summary>
    public (int Slab, int Sbn) Locate(long pbn)
    {
        var rel = pbn - DepotStart;
        return ((int)(rel / SlabStride), (int)(rel % SlabStride) - RefCountBlocksPerSlab - SlabJournalBlocks);
    }

    /// <summary>Lays out a pool of the given parameters on a device of <paramref name="deviceBlocks"/> blocks.</summary>
    public static Geometry Compute(FormatParameters p, long deviceBlocks, ulong nonce)
    {
        var problem = p.Validate(deviceBlocks);
        if (problem is not null)
            throw new ArgumentException(problem);
        var physical = p.PhysicalBlocks == 0 ? deviceBlocks : p.PhysicalBlocks;
        var logical = p.LogicalBlocks == 0 ? physical : p.LogicalBlocks;
        var slabBlocks = p.SlabBlocks;
        var refBlocks = (slabBlocks + CountsPerBlock - 1) / CountsPerBlock;
        // The root is sized for the largest logical size the pool may grow to (online growth writes
        // nothing but the superblock: these root blocks are formatted empty now).
        var growable = p.MaxLogicalBlocks != 0 ? p.MaxLogicalBlocks
            : Math.Min(FormatParameters.AddressableLogicalBlocks, Math.Max(logical, physical * FormatParameters.DefaultGrowthFactor));
        var leafPages = (growable + EntriesPerPage - 1) / EntriesPerPage;
        var rootBlocks = (int)((leafPages + EntriesPerPage - 1) / EntriesPerPage);
        var indexBlocks = p.IndexBlocks != 0 ? p.IndexBlocks : (int)Math.Clamp(physical / 128, 1, 16384);
        var journalStart = DoubleWriteStart + 1 + DoubleWriteCopies;
        var summaryStart = journalStart + p.JournalBlocks;
        // The summary is sized for the most slabs the device could hold.
        var stride = refBlocks + (long)p.SlabJournalBlocks + slabBlocks;
        var maxSlabs = Math.Max(1, physical / stride);
        var summaryBlocks = (int)((maxSlabs + SummaryEntriesPerBlock - 1) / SummaryEntriesPerBlock);
        var rootStart = summaryStart + summaryBlocks;
        var catalogStart = rootStart + rootBlocks;
        var indexStart = catalogStart + p.CatalogBlocks;
        var depotStart = indexStart + indexBlocks;
        var slabCount = (physical - depotStart) / stride;
        if (slabCount < 1)
        {
            var need = depotStart + stride;
            throw new ArgumentException(
                $"physical size {physical} blocks ({physical * 4 / 1024} MiB) is too small: the metadata and one slab of {slabBlocks} blocks need {need} blocks ({(need * 4 + 1023) / 1024} MiB); use a smaller slab size or a larger pool");
        }
        if (slabCount > int.MaxValue)
            throw new ArgumentException("too many slabs: use a larger slab size");
        return new Geometry
        {
            Nonce = nonce,
            PhysicalBlocks = physical,
            LogicalBlocks = logical,
            SlabBlocks = slabBlocks,
            SlabJournalBlocks = p.SlabJournalBlocks,
            JournalStart = journalStart,
            JournalBlocks = p.JournalBlocks,
            SummaryStart = summaryStart,
            SummaryBlocks = summaryBlocks,
            RootStart = rootStart,
            RootBlocks = rootBlocks,
            CatalogStart = catalogStart,
            CatalogBlocks = p.CatalogBlocks,
            IndexStart = indexStart,
            IndexBlocks = indexBlocks,
            DepotStart = depotStart,
            SlabCount = (int)slabCount,
        };
    }

    /// <summary>
    /// This geometry with the logical size grown to <paramref name="logicalBlocks"/> (the superblock
    /// records a growth; block 0 keeps the formatted size). Throws <see cref="ArgumentOutOfRangeException"/>
    /// below the current size or above <see cref="MaxLogicalBlocks"/>.
    /// </summary>
    public Geometry WithLogicalBlocks(long logicalBlocks)
    {
        if (logicalBlocks < LogicalBlocks || logicalBlocks > MaxLogicalBlocks)
            throw new ArgumentOutOfRangeException(nameof(logicalBlocks), $"a logical size of {logicalBlocks} blocks is outside {LogicalBlocks}..{MaxLogicalBlocks} (the current size .. what the block-map root can map)");
        return this with { LogicalBlocks = logicalBlocks };
    }

    /// <summary>Encodes into a sealed metadata block.</summary>
    public void Encode(Span<byte> block)
    {
        block.Clear();
        var p = MetadataBlock.Payload(block);
        BinaryPrimitives.WriteInt64LittleEndian(p[0..], PhysicalBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(p[8..], LogicalBlocks);
        BinaryPrimitives.WriteInt32LittleEndian(p[16..], SlabBlocks);
        BinaryPrimitives.WriteInt32LittleEndian(p[20..], VdoConstants.BlockSize);
        BinaryPrimitives.WriteInt64LittleEndian(p[24..], JournalStart);
        BinaryPrimitives.WriteInt32LittleEndian(p[32..], JournalBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(p[36..], SummaryStart);
        BinaryPrimitives.WriteInt32LittleEndian(p[44..], SummaryBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(p[48..], RootStart);
        BinaryPrimitives.WriteInt32LittleEndian(p[56..], RootBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(p[60..], CatalogStart);
        BinaryPrimitives.WriteInt32LittleEndian(p[68..], CatalogBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(p[72..], IndexStart);
        BinaryPrimitives.WriteInt32LittleEndian(p[80..], IndexBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(p[84..], DepotStart);
        BinaryPrimitives.WriteInt32LittleEndian(p[92..], SlabCount);
        BinaryPrimitives.WriteInt32LittleEndian(p[96..], SlabJournalBlocks);
        MetadataBlock.Seal(block, MetadataKind.Geometry, Nonce, 0);
    }

    /// <summary>Decodes and validates block 0 of a device of <paramref name="deviceBlocks"/> blocks.</summary>
    public static Geometry Decode(ReadOnlySpan<byte> block, long deviceBlocks)
    {
        const string Name = "geometry (block 0)";
        var problem = MetadataBlock.Validate(block, MetadataKind.Geometry, 0, 0);
        if (problem is not null && MetadataBlock.SealedVersion(block) is { } version && version != VdoConstants.FormatVersion)
            throw new UnsupportedFormatException(version);
        if (problem is not null)
            throw new CorruptMetadataException(Name, problem + " — is this a DataflowVdo pool?");
        var p = MetadataBlock.Payload(block);
        if (BinaryPrimitives.ReadInt32LittleEndian(p[20..]) != VdoConstants.BlockSize)
            throw new CorruptMetadataException(Name, "block size is not 4096");
        var g = new Geometry
        {
            Nonce = MetadataBlock.ReadNonce(block),
            PhysicalBlocks = BinaryPrimitives.ReadInt64LittleEndian(p[0..]),
            LogicalBlocks = BinaryPrimitives.ReadInt64LittleEndian(p[8..]),
            SlabBlocks = BinaryPrimitives.ReadInt32LittleEndian(p[16..]),
            JournalStart = BinaryPrimitives.ReadInt64LittleEndian(p[24..]),
            JournalBlocks = BinaryPrimitives.ReadInt32LittleEndian(p[32..]),
            SummaryStart = BinaryPrimitives.ReadInt64LittleEndian(p[36..]),
            SummaryBlocks = BinaryPrimitives.ReadInt32LittleEndian(p[44..]),
            RootStart = BinaryPrimitives.ReadInt64LittleEndian(p[48..]),
            RootBlocks = BinaryPrimitives.ReadInt32LittleEndian(p[56..]),
            CatalogStart = BinaryPrimitives.ReadInt64LittleEndian(p[60..]),
            CatalogBlocks = BinaryPrimitives.ReadInt32LittleEndian(p[68..]),
            IndexStart = BinaryPrimitives.ReadInt64LittleEndian(p[72..]),
            IndexBlocks = BinaryPrimitives.ReadInt32LittleEndian(p[80..]),
            DepotStart = BinaryPrimitives.ReadInt64LittleEndian(p[84..]),
            SlabCount = BinaryPrimitives.ReadInt32LittleEndian(p[92..]),
            SlabJournalBlocks = BinaryPrimitives.ReadInt32LittleEndian(p[96..]),
        };
        var impossible = g.FindImpossible(deviceBlocks);
        if (impossible is not null)
            throw new CorruptMetadataException(Name, impossible);
        return g;
    }

    private string? FindImpossible(long deviceBlocks)
    {
        if (PhysicalBlocks <= 0 || PhysicalBlocks > deviceBlocks)
            return $"physical size {PhysicalBlocks} blocks does not fit the device ({deviceBlocks} blocks): truncated file?";
        if (LogicalBlocks <= 0)
            return $"logical size {LogicalBlocks} is impossible";
        if (SlabBlocks < 256 || (SlabBlocks & (SlabBlocks - 1)) != 0)
            return $"slab size {SlabBlocks} is impossible";
        if (SlabJournalBlocks < 16 || SlabJournalBlocks > 65536)
            return $"slab journal size {SlabJournalBlocks} is impossible";
        if (JournalStart != DoubleWriteStart + 1 + DoubleWriteCopies || JournalBlocks < 16 || SummaryStart != JournalStart + JournalBlocks
            || RootStart != SummaryStart + SummaryBlocks || CatalogStart != RootStart + RootBlocks
            || IndexStart != CatalogStart + CatalogBlocks || DepotStart != IndexStart + IndexBlocks)
            return "regions overlap or leave gaps";
        if (RootBlocks < (LeafPages + EntriesPerPage - 1) / EntriesPerPage)
            return "block-map root too small for the logical size";
        if (SlabCount < 1 || DepotStart + SlabCount * SlabStride > PhysicalBlocks || SlabCount > (long)SummaryBlocks * SummaryEntriesPerBlock)
            return $"slab count {SlabCount} does not fit the pool";
        return null;
    }
}
