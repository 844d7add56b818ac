using DataflowVdo.Config;

namespace DataflowVdo.Tests.Config;

/// <summary>The <c>Fuse</c> section (read by <c>dvdo mount</c>): binding, ranges, shipped defaults.</summary>
public sealed class FuseOptionsTests
{
    [Test]
    public void FuseKeysBindFromSet()
    {
        var o = VdoConfiguration.Load(sets: ["Fuse:MaxThreads=4", "Fuse:AllowOther=true", "Fuse:AutoUnmount=true", "Fuse:MaxWriteKb=128", "Fuse:AttributeTimeoutMs=0"], environment: false);
        Assert.Multiple(() =>
        {
            Assert.That(o.Fuse.MaxThreads, Is.EqualTo(4));
            Assert.That(o.Fuse.AllowOther, Is.True);
            Assert.That(o.Fuse.AutoUnmount, Is.True);
            Assert.That(o.Fuse.MaxWriteKb, Is.EqualTo(128));
            Assert.That(o.Fuse.AttributeTimeoutMs, Is.Zero);
        });
    }

    [TestCase("Fuse:MaxThreads=-1", "Fuse:MaxThreads")]
    [TestCase("Fuse:MaxThreads=257", "Fuse:MaxThreads")]
    [TestCase("Fuse:MaxWriteKb=2048", "Fuse:MaxWriteKb")]
    [TestCase("Fuse:Threads=4", "Threads")]
    [TestCase("Fuse:AllowOther=perhaps", "AllowOther")]
    public void BadFuseKeysNameTheirKey(string set, string expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: [set], environment: false));
        Assert.That(e!.Message, Does.Contain(expected));
    }

    [TestCase(SchemeKind.Inline, 2, 3)]
    [TestCase(SchemeKind.StructureLocking, 2, 3)]
    [TestCase(SchemeKind.StructureLocking, 16, 17)]
    [TestCase(SchemeKind.MessagePassing, 2, FuseOptions.MessagePassingThreads)]
    public void AutomaticWorkerThreadsFollowTheScheme(SchemeKind scheme, int cores, int expected)
    {
        // The default (0): a worker runs Inline's and StructureLocking's steps itself, so one per
        // core and one more; message passing's workers wait while its blocks work, so more of them.
        var o = VdoConfiguration.Load(sets: [$"Pipeline:Scheme={scheme}"], environment: false);
        Assert.That(o.Fuse.MaxThreads, Is.Zero, "automatic by default");
        Assert.That(o.Fuse.WorkerThreads(o.Pipeline.Scheme, cores), Is.EqualTo(expected));
    }

    [TestCase(SchemeKind.Inline, "", -1)]
    [TestCase(SchemeKind.Inline, "Pipeline:Runners=2", 2)]
    [TestCase(SchemeKind.Inline, "Fuse:MaxThreads=10", 0)]
    [TestCase(SchemeKind.StructureLocking, "", 0)]
    [TestCase(SchemeKind.MessagePassing, "", 0)]
    public void AnInlineMountWithAutomaticWorkersRunsWithoutTheGateUnlessOneIsAskedFor(SchemeKind scheme, string set, int expected)
    {
        // cores + 1 workers are too few callers for the gate to shorten a line; an explicit gate
        // or an explicit worker count keeps what is configured.
        string[] sets = set.Length == 0 ? [$"Pipeline:Scheme={scheme}"] : [$"Pipeline:Scheme={scheme}", set];
        var o = VdoConfiguration.Load(sets: sets, environment: false);
        Assert.That(o.Fuse.Runners(o.Pipeline), Is.EqualTo(expected));
    }

    [Test]
    public void AnExplicitWorkerCountIsKeptForEveryScheme()
    {
        var o = VdoConfiguration.Load(sets: ["Fuse:MaxThreads=7"], environment: false);
        Assert.That(Enum.GetValues<SchemeKind>().Select(k => o.Fuse.WorkerThreads(k, 2)), Is.All.EqualTo(7));
    }

    [Test]
    public void TheShippedFuseDefaultsMatchTheBuiltInOnes()
    {
        var shipped = Path.Combine(TestContext.CurrentContext.TestDirectory, "dvdo.json");
        Assume.That(File.Exists(shipped), "dvdo.json is copied next to the binaries");
        var o = VdoConfiguration.Load(shipped, environment: false).Fuse;
        var d = new FuseOptions();
        Assert.That((o.MaxThreads, o.MaxWriteKb, o.MaxBackground, o.AttributeTimeoutMs, o.AllowOther, o.AutoUnmount),
            Is.EqualTo((d.MaxThreads, d.MaxWriteKb, d.MaxBackground, d.AttributeTimeoutMs, d.AllowOther, d.AutoUnmount)));
    }
}
