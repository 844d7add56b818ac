using System.Security.Cryptography;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Cli;

/// <summary>
/// <c>dvdo stats</c> and <c>dvdo check</c> open an unmounted pool read-only
/// (<see cref="Volume.OpenForInspection"/>): the pool file is byte-identical afterwards, whether
/// it was closed cleanly or not (a dirty pool is recovered in memory only, and stays dirty).
/// </summary>
[NonParallelizable]
public sealed class InspectionTests
{
    private const long Logical = Geometry.EntriesPerPage * 8;

    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"dvdo-inspect-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static void StatsAndCheckLeaveItUnchanged(string pool, bool dirty)
    {
        var before = Hash(pool);
        var modified = File.GetLastWriteTimeUtc(pool);
        foreach (var args in new[] { new[] { "stats", pool }, ["stats", pool, "--json"], ["stats", pool, "--verbose"], ["check", pool] })
        {
            var r = CliRunner.Run(args);
            Assert.That(r.Code, Is.Zero, $"{string.Join(' ', args)}: {r.Err}");
            if (dirty)
                Assert.That(r.Out + r.Err, Does.Contain("not closed cleanly").And.Contain("nothing written"), string.Join(' ', args));
            Assert.That(Hash(pool), Is.EqualTo(before), $"{string.Join(' ', args)} changed the pool file");
        }
        Assert.That(CliRunner.Run("check", pool).Out, Does.Contain("consistent"));
        Assert.That(File.GetLastWriteTimeUtc(pool), Is.EqualTo(modified));
    }

    [Test]
    [CancelAfter(60_000)]
    public void StatsAndCheckLeaveACleanlyClosedPoolByteIdentical()
    {
        var pool = Path.Combine(_dir, "clean.pool");
        using (var v = Volume.Format(FileBlockDevice.Create(pool, TestPools.DeviceBlocks(4, Logical)), TestPools.Small(Logical), ownsDevice: true))
        {
            for (var i = 0; i < 64; i++)
                v.Write(i * 37, Content.Of(i % 3, i % 20));
        }
        StatsAndCheckLeaveItUnchanged(pool, dirty: false);
    }

    [Test]
    [CancelAfter(60_000)]
    public void StatsAndCheckRecoverADirtyPoolInMemoryOnlyAndLeaveItByteIdentical()
    {
        // A pool file as a power cut leaves it: flushed writes, more after them, never closed.
        var device = new CrashSimulatingDevice(TestPools.DeviceBlocks(4, Logical));
        var volume = Volume.Format(device, TestPools.Small(Logical), TestPools.Options(SchemeKind.Inline));
        for (var i = 0; i < 64; i++)
            volume.Write(i * 37, Content.Random(i));
        volume.Flush();
        for (var i = 64; i < 96; i++)
            volume.Write(i * 37, Content.Random(i));
        var pool = Path.Combine(_dir, "dirty.pool");
        File.WriteAllBytes(pool, device.Crash(new Random(1), tear: false).ToArray());

        StatsAndCheckLeaveItUnchanged(pool, dirty: true);

        // Still dirty: the first ordinary open recovers it for real, with every flushed write.
        using var reopened = Volume.Open(FileBlockDevice.Open(pool), ownsDevice: true);
        Assert.That(reopened.Recovered, Is.True, "stats and check must not have marked the pool clean");
        var block = new byte[VdoConstants.BlockSize];
        for (var i = 0; i < 64; i++)
        {
            reopened.Read(i * 37, block);
            Assert.That(block, Is.EqualTo(Content.Random(i)), $"LBN {i * 37}");
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public void AVolumeOpenedForInspectionRefusesWrites()
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(4, Logical));
        using (var v = Volume.Format(device, TestPools.Small(Logical)))
            v.CreateImage("a", 4096);
        var before = device.ToArray();
        using (var v = Volume.OpenForInspection(device))
        {
            Assert.That(v.OpenedForInspection, Is.True);
            Assert.That(v.ReadOnlyReason, Is.Null, "not the read-only mode of a failed volume");
            Assert.Multiple(() =>
            {
                Assert.That(() => v.Write(0, Content.Random(1)), Throws.InstanceOf<ReadOnlyVolumeException>().With.Message.Contain("inspection"));
                Assert.That(() => v.Discard(0), Throws.InstanceOf<ReadOnlyVolumeException>());
                Assert.That(() => v.CreateImage("b", 4096), Throws.InstanceOf<ReadOnlyVolumeException>());
                Assert.That(() => v.RemoveImage("a"), Throws.InstanceOf<ReadOnlyVolumeException>());
                Assert.That(() => v.GrowLogical(Logical * 2), Throws.InstanceOf<ReadOnlyVolumeException>());
            });
            Assert.That(v.Images.Select(i => i.Name), Is.EqualTo(new[] { "a" }));
        }
        Assert.That(device.ToArray(), Is.EqualTo(before), "nothing was written, not even at close");
    }
}
