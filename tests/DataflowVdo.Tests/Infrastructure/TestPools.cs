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

    /// <summary>The fixtures' options for <paramref name="scheme"/> with its preset applied; <paramref name="tweak"/> goes over both.</summary>
    public static VdoOptions Options(SchemeCase scheme, Action<VdoOptions>? tweak = null) =>
        Options(scheme.Scheme, o =>
        {
            PipelinePreset.Find(scheme.Preset).ApplyTo(o);
            tweak?.Invoke(o);
        });

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

/// <summary>Every scheme the fixtures run under, and every preset that ships under each scheme it changes.</summary>
public static class Schemes
{
    /// <summary>The default layout of each scheme, then each other preset under MessagePassing and StructureLocking (Inline has one lock: no preset changes it).</summary>
    public static IEnumerable<SchemeCase> All =>
        Enum.GetValues<SchemeKind>().Select(s => new SchemeCase(s))
            .Concat(PipelinePreset.All.Where(p => p.Name != SchemeCase.DefaultPreset)
                .SelectMany(p => new[] { new SchemeCase(SchemeKind.MessagePassing, p.Name), new SchemeCase(SchemeKind.StructureLocking, p.Name) }));
}

/// <summary>
/// A scheme the fixtures run under, with a preset (<c>Pipeline:Preset</c>) applied over the
/// fixtures' options. Converts to its <see cref="SchemeKind"/>; named as the scheme alone for the
/// default layout, so those fixtures keep their names.
/// </summary>
public readonly record struct SchemeCase(SchemeKind Scheme, string Preset = SchemeCase.DefaultPreset)
{
    /// <summary>The preset that changes nothing: an executor per zone, one request per message.</summary>
    public const string DefaultPreset = "zoned";

    public static implicit operator SchemeKind(SchemeCase c) => c.Scheme;

    /// <summary>
    /// How many of a randomized test's <paramref name="full"/> rounds (crash points, seeds) this
    /// case runs: all of them for a scheme's default layout; a quarter (at least one) under another
    /// preset, which runs the same steps and differs only in which zones share an executor and how
    /// messages are batched, so that the suite stays within its time (the crash torture,
    /// <c>perf/Torture --set Pipeline:Preset=NAME</c>, runs a preset at depth).
    /// </summary>
    public int Rounds(int full) => Preset == DefaultPreset ? full : Math.Max(1, full / 4);

    public override string ToString() => Preset == DefaultPreset ? Scheme.ToString() : $"{Scheme}+{Preset}";
}
