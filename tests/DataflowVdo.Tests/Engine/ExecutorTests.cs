using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Pipeline.Graph;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// <c>Pipeline:Executors</c>: zones whose kinds name one executor share a lock (StructureLocking)
/// or one Dataflow block (MessagePassing), so the points between "an executor per zone" and "one
/// for everything" are configuration. Every layout keeps the data and recovers from a crash in
/// both drivers; grouping really merges lock acquisitions and handoffs; the graph draws what
/// runs; a bad key is an error naming it.
/// </summary>
public sealed class ExecutorTests
{
    /// <summary>Layouts: kind → executor, for each driver that reads them.</summary>
    public static IEnumerable<TestCaseData> Layouts()
    {
        foreach (var scheme in new[] { SchemeKind.StructureLocking, SchemeKind.MessagePassing })
        {
            yield return new TestCaseData(scheme, new Dictionary<string, string>()).SetArgDisplayNames(scheme.ToString(), "each zone its own");
            yield return new TestCaseData(scheme, PipelineOptions.ExecutorKinds.ToDictionary(k => k, _ => "all")).SetArgDisplayNames(scheme.ToString(), "all in one");
            yield return new TestCaseData(scheme, new Dictionary<string, string> { ["Logical"] = "front", ["HashZone"] = "front" }).SetArgDisplayNames(scheme.ToString(), "logical+hash");
            yield return new TestCaseData(scheme, new Dictionary<string, string> { ["Physical"] = "back", ["Packer"] = "back", ["Journal"] = "back" }).SetArgDisplayNames(scheme.ToString(), "physical+packer+journal");
        }
    }

    private static VdoOptions Options(SchemeKind scheme, Dictionary<string, string> layout, int zones = 1, Action<VdoOptions>? tweak = null) =>
        TestPools.Options(scheme, o =>
        {
            foreach (var (kind, executor) in layout)
                o.Pipeline.Executors[kind] = executor;
            o.Pipeline.LogicalZones = o.Pipeline.PhysicalZones = o.Pipeline.HashZones = zones;
            tweak?.Invoke(o);
        });

    [TestCaseSource(nameof(Layouts))]
    [CancelAfter(120_000)]
    public void EveryLayoutKeepsWhatFourWritersWrote(SchemeKind scheme, Dictionary<string, string> layout) =>
        ParallelWriters.KeepWhatTheyWrote(Options(scheme, layout, zones: 2), writers: 4, blocks: 300);

    [TestCaseSource(nameof(Layouts))]
    [CancelAfter(300_000)]
    public void EveryLayoutRecoversFromCrashes(SchemeKind scheme, Dictionary<string, string> layout)
    {
        for (var point = 0; point < 12; point++)
        {
            var policy = point % 3 == 0 ? WritePolicy.Sync : WritePolicy.Async;
            CrashRecoveryTests.RunCrashPoint(Options(scheme, layout, tweak: o => o.Volume.WritePolicy = policy), 3_000_000 + point, tear: point % 2 == 0, maxOps: 400);
        }
    }

    [TestCase(SchemeKind.StructureLocking)]
    [TestCase(SchemeKind.MessagePassing)]
    public void ZonesSharingAnExecutorRunConsecutiveStagesWithoutLeavingIt(SchemeKind scheme)
    {
        // StructureLocking: lock acquisitions; MessagePassing: handoffs (posts to another block).
        long Locks(Dictionary<string, string> layout)
        {
            using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), Options(scheme, layout));
            for (var i = 0; i < 200; i++)
                v.Write(i, Content.Of(i % 3, i % 40));
            v.Flush();
            return scheme == SchemeKind.MessagePassing ? v.PipelineHandoffs : v.PipelineLocks.Acquisitions;
        }
        var own = Locks([]);
        var one = Locks(PipelineOptions.ExecutorKinds.ToDictionary(k => k, _ => "all"));
        var front = Locks(new() { ["Logical"] = "front", ["HashZone"] = "front" });
        Assert.Multiple(() =>
        {
            Assert.That(one, Is.LessThan(own), "one executor for every zone");
            Assert.That(front, Is.LessThan(own), "logical and hash zones together (a write goes logical → hash zone)");
        });
    }

    [TestCase(SchemeKind.StructureLocking, "lock")]
    [TestCase(SchemeKind.MessagePassing, "block")]
    public void TheGraphDrawsZonesOnTheirExecutor(SchemeKind scheme, string executor)
    {
        var options = Options(scheme, new() { ["Logical"] = "front", ["HashZone"] = "front" }, zones: 2);
        var nodes = PipelineGraph.Build(options).Nodes.Where(n => n.ZoneKind is not null).ToDictionary(n => n.Id, n => n.Executor);
        Assert.Multiple(() =>
        {
            Assert.That(nodes["logical0"], Is.EqualTo($"{executor} front"));
            Assert.That(nodes["logical1"], Is.EqualTo($"{executor} front"));
            Assert.That(nodes["hashzone1"], Is.EqualTo($"{executor} front"));
            Assert.That(nodes["physical0"], Is.EqualTo($"{executor} physical0"), "a kind not named keeps an executor per zone");
            Assert.That(nodes["journal"], Is.EqualTo($"{executor} journal"));
        });
    }

    [TestCase("Pipeline:Executors:Compress", "front", "Pipeline:Executors:Compress is not a zone kind that owns structures")]
    [TestCase("Pipeline:Executors:Shelf", "front", "Pipeline:Executors:Shelf is not a zone kind")]
    [TestCase("Pipeline:Executors:Logical", " ", "Pipeline:Executors:Logical is empty")]
    public void ABadExecutorKeyIsAnErrorNamingIt(string key, string value, string message)
    {
        var e = Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: [$"{key}={value}"], environment: false));
        Assert.That(e!.Message, Does.Contain(message));
    }

    [Test]
    public void ExecutorsBindFromConfigurationWhateverTheCaseOfTheKind()
    {
        var options = VdoConfiguration.Load(sets: ["Pipeline:Scheme=StructureLocking", "Pipeline:Executors:logical=front", "Pipeline:Executors:HashZone=front"], environment: false);
        Assert.That(options.Pipeline.ExecutorOf("Logical"), Is.EqualTo("front"));
        Assert.That(options.Pipeline.ExecutorOf("HashZone"), Is.EqualTo("front"));
        Assert.That(options.Pipeline.ExecutorOf("Physical"), Is.Null);
    }
}
