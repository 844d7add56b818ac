using DataflowVdo.Blocks.Stages;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Pipeline.Graph;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// The drawing is what runs: in every scheme and for every workload, each zone-to-zone transition
/// the driver made is an edge of the graph <c>dvdo graph</c> draws for that configuration, and
/// every ordinary edge drawn is taken by some workload (no dead edges).
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class GraphTruthTests(SchemeCase scheme)
{
    /// <summary>The workloads, each on a fresh volume.</summary>
    private static readonly Dictionary<string, Action<Volume>> Workloads = new()
    {
        ["mixed"] = v =>
        {
            for (var i = 0; i < 300; i++)
                v.Write(i * 7 % 1500, Content.Of(i % 3, i % 40)); // repeats: duplicates and rewrites
            v.Flush();
        },
        ["unique"] = v =>
        {
            for (var i = 0; i < 400; i++) // past Pipeline:CompressionProbeAfter: compression is then skipped
                v.Write(i, Content.Random(i));
            v.Flush();
        },
        ["dup"] = v =>
        {
            for (var i = 0; i < 50; i++)
                v.Write(i, Content.Random(i));
            v.Flush();
            for (var i = 0; i < 50; i++)
                v.Write(1000 + i, Content.Random(i)); // shares a stored block
            for (var i = 0; i < 50; i++)
                v.Write(i, Content.Random(i)); // the same data again at the same LBN: nothing changes
            var run = new byte[16 * VdoConstants.BlockSize]; // identical blocks in flight together
            for (var i = 0; i < 16; i++)
                Content.Random(5000).CopyTo(run, i * VdoConstants.BlockSize);
            v.WriteBlocks(2000, run);
            v.Flush();
        },
        ["compressible"] = v =>
        {
            for (var i = 0; i < 4; i++)
                v.Write(700 + i, HalfRandom(i)); // compresses, but no two fragments share a block
            for (var i = 0; i < 200; i++)
                v.Write(i, Content.Compressible(i));
            for (var i = 0; i < 20; i++)
                v.Write(500 + i, Content.Compressible(i)); // duplicates of packed fragments
            v.Flush();
        },
        ["zero"] = v =>
        {
            for (var i = 0; i < 100; i++)
                v.Write(i * 3, Content.Zero());
            v.Flush();
        },
        ["read"] = v =>
        {
            for (var i = 0; i < 90; i++)
                v.Write(i, Content.Of(i % 3, i));
            v.Flush();
            var buffer = new byte[VdoConstants.BlockSize];
            for (var i = 0; i < 120; i++)
                v.Read(i, buffer); // zero, whole, packed and unwritten blocks
        },
        ["discard"] = v =>
        {
            for (var i = 0; i < 60; i++)
                v.Write(i, Content.Of(1 + (i % 2), i));
            v.Flush();
            v.Discard(0, 60);
            v.Discard(3000, 10); // never written
            v.Flush();
        },
        ["flush"] = v =>
        {
            for (var i = 0; i < 30; i++)
            {
                v.Write(i, Content.Compressible(i));
                v.Flush(); // a packer bin of one
            }
        },
        ["checkpoint"] = v =>
        {
            for (var i = 0; i < 3000; i++)
                v.Write(i % 700, Content.Of(1 + (i % 2), i)); // fills the 16-block journal ring many times
            v.Flush();
        },
    };

    private static IEnumerable<string> WorkloadNames => Workloads.Keys;

    /// <summary>The configurations whose drawings are compared with what runs.</summary>
    private static readonly Dictionary<string, Action<VdoOptions>> Configurations = new()
    {
        ["dedupe and compression"] = _ => { },
        ["no compression"] = o => o.Pipeline.Compression = false,
        ["no dedupe"] = o => o.Pipeline.Dedupe = false,
        // Executors (StructureLocking, MessagePassing; Inline has one by definition): transitions
        // between zones of one executor run without leaving it, and are still counted and drawn.
        ["every zone on one executor"] = o =>
        {
            foreach (var kind in PipelineOptions.ExecutorKinds)
                o.Pipeline.Executors[kind] = "all";
        },
        ["message batches"] = o => o.Pipeline.MessageBatch = 8, // MessagePassing (the others ignore it)
        ["front and back executors"] = o =>
        {
            o.Pipeline.Executors["Logical"] = o.Pipeline.Executors["HashZone"] = "front";
            o.Pipeline.Executors["Physical"] = o.Pipeline.Executors["Packer"] = o.Pipeline.Executors["Journal"] = "back";
        },
    };

    private static IEnumerable<string> ConfigurationNames => Configurations.Keys;

    private Volume NewVolume(string configuration = "dedupe and compression") =>
        Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks(slabs: 8)), TestPools.Small(), TestPools.Options(scheme, Configurations[configuration]));

    /// <summary>Random bytes over 60% of the block, zeros after: an LZ4 fragment of about 2.5 KiB.</summary>
    private static byte[] HalfRandom(int id)
    {
        var b = Content.Random(id + 90_000);
        b.AsSpan(2500).Clear();
        return b;
    }

    private static HashSet<(string, string)> Observed(Volume v) => [.. v.PipelineTransitions().Select(t => (t.From, t.To))];

    [Test]
    public void TheTestsCheckEveryTransitionAgainstTheStageTable() =>
        Assert.That(StageTable.Checking, Is.True, $"the test project sets the AppContext switch {StageTable.CheckSwitch}");

    [Test]
    public void EveryTransitionAWorkloadMakesIsADrawnEdge(
        [ValueSource(nameof(WorkloadNames))] string workload, [ValueSource(nameof(ConfigurationNames))] string configuration)
    {
        using var v = NewVolume(configuration);
        Workloads[workload](v);
        var graph = PipelineGraph.Build(v.Options);
        var drawn = graph.Edges.Select(e => (e.From, e.To)).ToHashSet();
        var observed = Observed(v);
        Assert.That(observed, Is.Not.Empty, "the driver counts its transitions");
        Assert.That(observed.Except(drawn), Is.Empty, $"transitions {workload} made that `dvdo graph` does not draw");
        Assert.That(v.Check(), Is.Empty);
    }

    [TestCaseSource(nameof(ConfigurationNames))]
    public void EveryOrdinaryDrawnEdgeIsTakenBySomeWorkload(string configuration)
    {
        // Zones of one kind are interchangeable (which one a request meets depends on its LBN, name
        // or block): edges are compared between zone kinds.
        var observed = new HashSet<(string, string)>();
        VdoOptions? options = null;
        foreach (var (_, run) in Workloads)
        {
            using var v = NewVolume(configuration);
            run(v);
            options = v.Options;
            observed.UnionWith(Observed(v).Select(Kinds));
        }
        var normal = PipelineGraph.Build(options!).Edges.Where(e => e.Kind == TransitionKind.Normal).Select(e => Kinds((e.From, e.To))).ToHashSet();
        Assert.That(normal.Except(observed), Is.Empty, "drawn edges no workload takes (dead edges)");
    }

    private static (string, string) Kinds((string From, string To) e) => (e.From.TrimEnd("0123456789".ToCharArray()), e.To.TrimEnd("0123456789".ToCharArray()));
}
