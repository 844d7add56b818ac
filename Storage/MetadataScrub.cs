using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>
/// The metadata half of a scrub: reads every metadata block of the pool from the device and
/// validates it (header, kind, index, CRC-32; every journal sector that carries a sequence
/// against its own checksum; leaf pages also for impossible mappings). A block that is all zeros
/// has never been written and is skipped (the geometry excepted). Runs on a quiescent pool.
/// </summary>
public static class MetadataScrub
{
    /// <summary>Scrubs every metadata block; calls <paramref name="damaged"/> with region, PBN and problem; returns the number of blocks read.</summary>
    public static long Run(Geometry g, IBlockDevice device, BlockMap blockMap, Action<string, long, string> damaged)
    {
        var block = new byte[VdoConstants.BlockSize];
        long read = 0;
        bool Blank() => block.AsSpan().IndexOfAnyExcept((byte)0) < 0;
        void Sealed(string region, long pbn, MetadataKind kind, ulong nonce, long index)
        {
            device.Read(pbn, block);
            read++;
            if (!Blank() && MetadataBlock.Validate(block, kind, nonce, index) is { } problem)
                damaged(region, pbn, problem);
        }
        void Journal(string region, long pbn, ulong nonce)
        {
            device.Read(pbn, block);
            read++;
            if (JournalDamage(block, nonce) is { } problem)
                damaged(region, pbn, problem);
        }

        device.Read(0, block);
        read++;
        if (MetadataBlock.Validate(block, MetadataKind.Geometry, 0, 0) is { } geometryProblem)
            damaged("geometry", 0, geometryProblem);
        for (var copy = 0; copy < 2; copy++)
            Sealed("superblock", Geometry.SuperBlockStart + copy, MetadataKind.SuperBlock, g.Nonce, copy);
        Sealed("double-write area", Geometry.DoubleWriteStart, MetadataKind.DoubleWrite, g.Nonce, 0);
        for (var b = 0; b < g.JournalBlocks; b++)
            Journal("recovery journal", g.JournalStart + b, g.Nonce);
        for (var b = 0; b < g.SummaryBlocks; b++)
            Sealed("slab summary", g.SummaryStart + b, MetadataKind.SlabSummary, g.Nonce, b);
        for (var b = 0; b < g.RootBlocks; b++)
            Sealed("block-map root", g.RootStart + b, MetadataKind.BlockMapRoot, g.Nonce, b);
        for (var b = 0; b < g.CatalogBlocks; b++)
            Sealed("catalog", g.CatalogStart + b, MetadataKind.Catalog, g.Nonce, b);
        for (var b = 0; b < g.IndexBlocks; b++)
            Sealed("saved index", g.IndexStart + b, MetadataKind.DedupeIndex, g.Nonce, b);
        for (var s = 0; s < g.SlabCount; s++)
        {
            for (var b = 0; b < g.RefCountBlocksPerSlab; b++)
                Sealed("reference counts", g.RefCountStart(s) + b, MetadataKind.RefCounts, g.Nonce, SlabDepot.IndexOf(s, b));
            for (var b = 0; b < g.SlabJournalBlocks; b++)
                Journal("slab journal", g.SlabJournalStart(s) + b, SlabJournal.NonceOf(g, s));
        }
        var root = blockMap.RootEntries;
        for (var p = 0; p < root.Length; p++)
        {
            if (root[p] == 0)
                continue;
            read++;
            if (blockMap.ScrubPage(p, block) is { } problem)
                damaged($"block-map page {p}", root[p], problem);
        }
        return read;
    }

    /// <summary>A journal block's damage: a sector that carries a sequence but fails its own checksum (torn writes leave sectors whole).</summary>
    private static string? JournalDamage(ReadOnlySpan<byte> block, ulong nonce)
    {
        for (var s = 0; s < JournalBlockFormat.SectorsPerBlock; s++)
        {
            var sector = block.Slice(s * VdoConstants.SectorSize, VdoConstants.SectorSize);
            if (sector.IndexOfAnyExcept((byte)0) < 0)
                continue;
            if (JournalBlockFormat.Damage(block, BinaryPrimitives.ReadUInt64LittleEndian(sector), nonce) is { } problem)
                return problem;
        }
        return null;
    }
}
