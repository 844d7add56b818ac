using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>
/// The slabs: one-byte reference counts for every data block (0 free, 1..254 sharers,
/// 255 provisional), the allocator, and the slab summary. Counts live in memory (1 byte per
/// 4 KiB block, as in VDO) and dirty ref-count blocks are written at checkpoints, after the
/// journal entries they reflect are durable (I2). One owner at a time.
/// </summary>
public sealed partial class SlabDepot
{
    /// <summary>Count stored for a block-map leaf page: full, so it is never shared.</summary>
    public const byte BlockMapPageCount = VdoConstants.MaximumReferenceCount;

    private readonly Geometry _geometry;
    private readonly byte[][] _counts;
    private readonly bool[][] _dirty;
    private readonly int[] _free;
    private readonly int[] _cursor;
    private int _currentSlab;

    private SlabDepot(Geometry geometry)
    {
        _geometry = geometry;
        _counts = new byte[geometry.SlabCount][];
        _dirty = new bool[geometry.SlabCount][];
        _free = new int[geometry.SlabCount];
        _cursor = new int[geometry.SlabCount];
        for (var s = 0; s < geometry.SlabCount; s++)
        {
            _counts[s] = new byte[geometry.SlabBlocks];
            _dirty[s] = new bool[geometry.RefCountBlocksPerSlab];
            _free[s] = geometry.SlabBlocks;
        }
    }

    /// <summary>Free data blocks.</summary>
    public long FreeBlocks { get; private set; }

    /// <summary>Blocks holding block-map leaf pages.</summary>
    public long BlockMapPages { get; private set; }

    /// <summary>Blocks allocated but not yet referenced by a journaled mapping.</summary>
    public long ProvisionalBlocks { get; private set; }

    /// <summary>Ref-count blocks written so far.</summary>
    public long RefCountBlocksWritten { get; private set; }

    /// <summary>Data blocks in use for data (referenced or provisional, not block-map pages).</summary>
    public long DataBlocksUsed => _geometry.DataBlocks - FreeBlocks - BlockMapPages;

    /// <summary>A new, all-free depot (format).</summary>
    public static SlabDepot CreateEmpty(Geometry geometry)
    {
        var depot = new SlabDepot(geometry) { FreeBlocks = geometry.DataBlocks };
        for (var s = 0; s < geometry.SlabCount; s++)
            Array.Fill(depot._dirty[s], true);
        return depot;
    }

    /// <summary>Loads and validates every ref-count block.</summary>
    public static SlabDepot Load(IBlockDevice device, Geometry geometry)
    {
        var depot = new SlabDepot(geometry);
        var block = new byte[VdoConstants.BlockSize];
        for (var s = 0; s < geometry.SlabCount; s++)
        {
            for (var b = 0; b < geometry.RefCountBlocksPerSlab; b++)
            {
                var pbn = geometry.RefCountStart(s) + b;
                device.Read(pbn, block);
                MetadataBlock.Check(block, MetadataKind.RefCounts, geometry.Nonce, IndexOf(s, b), $"reference-count block {b} of slab {s} (PBN {pbn})");
                var first = b * Geometry.CountsPerBlock;
                var n = Math.Min(Geometry.CountsPerBlock, geometry.SlabBlocks - first);
                MetadataBlock.Payload(block)[..n].CopyTo(depot._counts[s].AsSpan(first, n));
            }
        }
        depot.Recount();
        return depot;
    }

    private static long IndexOf(int slab, int block) => ((long)slab << 16) | (uint)block;

    /// <summary>Recomputes free, provisional and block-map-page totals from the counts.</summary>
    public void Recount()
    {
        FreeBlocks = 0;
        ProvisionalBlocks = 0;
        for (var s = 0; s < _geometry.SlabCount; s++)
        {
            var free = _counts[s].AsSpan().Count((byte)0);
            _free[s] = free;
            FreeBlocks += free;
            ProvisionalBlocks += _counts[s].AsSpan().Count(VdoConstants.ProvisionalReferenceCount);
        }
    }

    /// <summary>Sets the number of block-map pages (known from the block-map root).</summary>
    public void SetBlockMapPageTotal(long pages) => BlockMapPages = pages;

    /// <summary>The reference count of a data block.</summary>
    public byte GetCount(long pbn)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        return _counts[slab][sbn];
    }

    /// <summary>
    /// Allocates a free block and marks it provisional. Returns false when the pool is full.
    /// Allocation walks each slab in order, like VDO, so data stays roughly sequential.
    /// </summary>
    public bool TryAllocate(out long pbn)
    {
        if (FreeBlocks == 0)
        {
            pbn = 0;
            return false;
        }
        var slab = _currentSlab;
        while (_free[slab] == 0)
            slab = (slab + 1) % _geometry.SlabCount;
        _currentSlab = slab;
        var counts = _counts[slab];
        var start = _cursor[slab];
        var sbn = counts.AsSpan(start).IndexOf((byte)0);
        if (sbn >= 0)
            sbn += start;
        else
            sbn = counts.AsSpan(0, start).IndexOf((byte)0);
        _cursor[slab] = sbn + 1 == counts.Length ? 0 : sbn + 1;
        Set(slab, sbn, VdoConstants.ProvisionalReferenceCount);
        _free[slab]--;
        FreeBlocks--;
        ProvisionalBlocks++;
        pbn = _geometry.SlabDataStart(slab) + sbn;
        return true;
    }

    /// <summary>Returns a provisional block that ended up unused (deduplicated or compressed).</summary>
    public void ReleaseProvisional(long pbn)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        if (_counts[slab][sbn] != VdoConstants.ProvisionalReferenceCount)
            throw new InvalidOperationException($"PBN {pbn} is not provisional (count {_counts[slab][sbn]})");
        Set(slab, sbn, 0);
        _free[slab]++;
        FreeBlocks++;
        ProvisionalBlocks--;
    }

    /// <summary>Turns a provisional block into a block-map page.</summary>
    public void MakeBlockMapPage(long pbn)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        if (_counts[slab][sbn] != VdoConstants.ProvisionalReferenceCount)
            throw new InvalidOperationException($"PBN {pbn} is not provisional");
        Set(slab, sbn, BlockMapPageCount);
        ProvisionalBlocks--;
        BlockMapPages++;
    }

    /// <summary>Adds a reference (a provisional block gets its first). Caller checked the 254 limit.</summary>
    public void Increment(long pbn)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        var count = _counts[slab][sbn];
        if (count == VdoConstants.ProvisionalReferenceCount)
        {
            Set(slab, sbn, 1);
            ProvisionalBlocks--;
            return;
        }
        if (count == 0 || count >= VdoConstants.MaximumReferenceCount)
            throw new InvalidOperationException($"cannot add a reference to PBN {pbn} with count {count}");
        Set(slab, sbn, (byte)(count + 1));
    }

    /// <summary>Drops a reference; the block is free when the count reaches 0.</summary>
    public void Decrement(long pbn)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        var count = _counts[slab][sbn];
        if (count == 0 || count == VdoConstants.ProvisionalReferenceCount)
            throw new InvalidOperationException($"reference-count underflow on PBN {pbn} (count {count})");
        Set(slab, sbn, (byte)(count - 1));
        if (count == 1)
        {
            _free[slab]++;
            FreeBlocks++;
        }
    }

    private void Set(int slab, int sbn, byte value)
    {
        _counts[slab][sbn] = value;
        _dirty[slab][sbn / Geometry.CountsPerBlock] = true;
    }

    /// <summary>Replaces every count (rebuild after a crash) and marks all blocks dirty.</summary>
    public void ReplaceAll(Func<int, byte[]> countsOfSlab)
    {
        for (var s = 0; s < _geometry.SlabCount; s++)
        {
            countsOfSlab(s).CopyTo(_counts[s], 0);
            Array.Fill(_dirty[s], true);
            _cursor[s] = 0;
        }
        Recount();
    }

    /// <summary>Copies of the counts of one slab (for checks).</summary>
    public ReadOnlySpan<byte> CountsOfSlab(int slab) => _counts[slab];

    /// <summary>Stages every dirty ref-count block and the slab summary in the metadata writer (checkpoint; journal already durable).</summary>
    public void WriteDirty(MetadataWriter writer)
    {
        var block = new byte[VdoConstants.BlockSize];
        for (var s = 0; s < _geometry.SlabCount; s++)
        {
            for (var b = 0; b < _geometry.RefCountBlocksPerSlab; b++)
            {
                if (!_dirty[s][b])
                    continue;
                Array.Clear(block);
                var first = b * Geometry.CountsPerBlock;
                var n = Math.Min(Geometry.CountsPerBlock, _geometry.SlabBlocks - first);
                _counts[s].AsSpan(first, n).CopyTo(MetadataBlock.Payload(block.AsSpan()));
                MetadataBlock.Seal(block, MetadataKind.RefCounts, _geometry.Nonce, IndexOf(s, b));
                writer.Write(_geometry.RefCountStart(s) + b, block);
                _dirty[s][b] = false;
                RefCountBlocksWritten++;
            }
        }
        WriteSummary(block, writer);
    }

    private void WriteSummary(byte[] block, MetadataWriter writer)
    {
        // The summary (free blocks per slab) lets tools size slabs without reading every count.
        for (var b = 0; b < _geometry.SummaryBlocks; b++)
        {
            Array.Clear(block);
            var payload = MetadataBlock.Payload(block.AsSpan());
            for (var i = 0; i < Geometry.SummaryEntriesPerBlock; i++)
            {
                var slab = (b * Geometry.SummaryEntriesPerBlock) + i;
                if (slab >= _geometry.SlabCount)
                    break;
                BinaryPrimitives.WriteInt32LittleEndian(payload[(i * 8)..], _free[slab]);
                payload[(i * 8) + 4] = 1;
            }
            MetadataBlock.Seal(block, MetadataKind.SlabSummary, _geometry.Nonce, b);
            writer.Write(_geometry.SummaryStart + b, block);
        }
    }
}
