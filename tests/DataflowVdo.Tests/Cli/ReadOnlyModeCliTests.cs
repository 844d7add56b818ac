using System.Text.Json;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Cli;

/// <summary>A pool left in read-only mode, as a user meets it: stats and check say so and why, and check --repair returns it to service.</summary>
[NonParallelizable]
public sealed class ReadOnlyModeCliTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"dvdo-ro-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void StatsAndCheckShowReadOnlyModeAndCheckRepairClearsIt()
    {
        var pool = Path.Combine(_dir, "ro.pool");
        File.WriteAllBytes(pool, ReadOnlyPoolImage(out var reason));

        var stats = CliRunner.Run("stats", pool, "--json");
        Assert.That(stats.Code, Is.Zero, stats.Err);
        using (var json = JsonDocument.Parse(stats.Out))
        {
            Assert.That(json.RootElement.GetProperty("mode").GetString(), Is.EqualTo("read-only"));
            Assert.That(json.RootElement.GetProperty("readOnlyReason").GetString(), Is.EqualTo(reason));
        }

        var check = CliRunner.Run("check", pool);
        Assert.That(check.Code, Is.EqualTo(3), "a read-only pool is not in service");
        Assert.That(check.Err, Does.Contain("read-only mode").And.Contain(reason).And.Contain("check --repair"));

        var repair = CliRunner.Run("check", pool, "--repair");
        Assert.That(repair.Code, Is.Zero, repair.Err);
        Assert.That(repair.Out, Does.Contain("read-only mode cleared").And.Contain(reason).And.Contain("consistent"));

        var after = CliRunner.Run("stats", pool, "--json");
        using (var json = JsonDocument.Parse(after.Out))
            Assert.That(json.RootElement.GetProperty("mode").GetString(), Is.EqualTo("normal"));
        Assert.That(CliRunner.Run("check", pool).Code, Is.Zero);
    }

    /// <summary>A pool whose journal write failed: read-only mode recorded in its superblock.</summary>
    private static byte[] ReadOnlyPoolImage(out string reason)
    {
        var format = TestPools.Small();
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var device = new FaultInjectingDevice(inner);
        var volume = Volume.Format(device, format, TestPools.Options(SchemeKind.Inline));
        volume.Write(0, Content.Random(1));
        var g = volume.Geometry;
        device.FailNextWrite = pbn => pbn >= g.JournalStart && pbn < g.JournalStart + g.JournalBlocks;
        Assert.Catch(volume.Flush);
        reason = volume.ReadOnlyReason!;
        Assert.That(reason, Is.Not.Null, "precondition: the pool is read-only");
        volume.Dispose();
        using var image = inner.Crash(new Random(1), tear: false, keep: 1);
        return image.ToArray();
    }
}
