using DataflowVdo.Config;
using DataflowVdo.Storage;

namespace DataflowVdo.Tests.Infrastructure;

/// <summary>Small pools for tests: small slabs, a short journal ring (so checkpoints and reclaim happen), a tiny page cache.</summary>
public static class TestPools
{
    public static FormatParameters Small(long logicalBlocks = 4096) => new()
    {
        LogicalBlocks = logicalBlocks,
        // Room to grow (the default, 256 x the physical size, would follow DeviceBlocks' 2^30-block probe).
        MaxLogicalBlocks = Math.Max(logicalBlocks, 1L << 20),
        SlabBlocks = 1024,
        JournalBlocks = 16,
        SlabJournalBlocks = 16,
        CatalogBlocks = 2,
        IndexBlocks = 16,
    };

    /// <summary>Blocks a device needs for <paramref name="slabs"/> slabs of the small format.</summary>
    public static long DeviceBlocks(int slabs = 4, long logicalBlocks = 4096) => DeviceBlocks(Small(logicalBlocks), slabs);

    /// <summary>Blocks a device needs for <paramref name="slabs"/> slabs of <paramref name="format"/>.</summary>
    public static long DeviceBlocks(FormatParameters format, int slabs)
    {
        var probe = Geometry.Compute(format with { PhysicalBlocks = 0 }, 1L << 30, 1);
        return probe.DepotStart + (slabs * probe.SlabStride);
    }

    public static VdoOptions Options(SchemeKind scheme, Action<VdoOptions>? tweak = null)
    {
        var o = new VdoOptions();
        o.Pipeline.Scheme = scheme;
        o.Volume.BlockMapCacheMb = 1;
        o.Index.MemoryMb = 1;
        o.Pipeline.PackerBins = 8;
        // The concurrent schemes run every fixture with several logical, hash and physical zones
        // (the graph is reconfigured, the tests stay the same); the concurrency tests also cover one.
        (o.Pipeline.LogicalZones, o.Pipeline.HashZones, o.Pipeline.PhysicalZones) = scheme switch
        {
            SchemeKind.MessagePassing => (2, 3, 3),
            SchemeKind.StructureLocking => (3, 3, 2),
            _ => (1, 1, 1),
        };
        // Structure locking runs multi-block requests in batches (the batched variant); single blocks alone.
        o.Pipeline.LockBatch = scheme == SchemeKind.StructureLocking ? 8 : 1;
        tweak?.Invoke(o);
        return o;
    }
}

/// <summary>Every scheme the fixtures run under.</summary>
public static class Schemes
{
    public static IEnumerable<SchemeKind> All => Enum.GetValues<SchemeKind>();
}
