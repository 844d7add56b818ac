using System.Text.Json;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Cli;

/// <summary>A pool file with a damaged shared block, as a user meets it: scrub names every image and LBN, stats counts it, check --repair --drop-damaged unmaps it.</summary>
[NonParallelizable]
public sealed class ScrubCliTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"dvdo-scrub-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void ScrubNamesTheDamageAndRepairDropsItOnlyWhenTold()
    {
        var pool = Path.Combine(_dir, "p.pool");
        File.WriteAllBytes(pool, DamagedPoolImage(out var pbn, out var a, out var b));

        var scrub = CliRunner.Run("scrub", pool);
        Assert.That(scrub.Code, Is.EqualTo(3), "damage found: exit 3");
        Assert.That(scrub.Err, Does.Contain($"data block at PBN {pbn}")
            .And.Contain($"vm-a block 3 (LBN {a + 3}").And.Contain($"vm-b block 9 (LBN {b + 9}").And.Contain("1 damaged"));

        var json = CliRunner.Run("scrub", pool, "--json");
        Assert.That(json.Code, Is.EqualTo(3));
        using (var doc = JsonDocument.Parse(json.Out))
        {
            var damage = doc.RootElement.GetProperty("damage");
            Assert.That(damage.GetArrayLength(), Is.EqualTo(1));
            Assert.That(damage[0].GetProperty("pbn").GetInt64(), Is.EqualTo(pbn));
            Assert.That(damage[0].GetProperty("affected").EnumerateArray().Select(r => r.GetProperty("image").GetString()), Is.EquivalentTo(new[] { "vm-a", "vm-b" }));
            Assert.That(doc.RootElement.GetProperty("clean").GetBoolean(), Is.False);
        }

        var kept = CliRunner.Run("check", pool, "--repair");
        Assert.That(kept.Code, Is.Zero, kept.Err);
        Assert.That(kept.Out, Does.Contain("mappings to data that fails its checksum are kept"));
        Assert.That(CliRunner.Run("scrub", pool).Code, Is.EqualTo(3), "without --drop-damaged the damage stays");

        var dropped = CliRunner.Run("check", pool, "--repair", "--drop-damaged");
        Assert.That(dropped.Code, Is.Zero, dropped.Err);
        Assert.That(dropped.Out, Does.Contain($"LBN {a + 3}: mapping to PBN {pbn} dropped").And.Contain($"LBN {b + 9}: mapping to PBN {pbn} dropped")
            .And.Contain("dropped 2 mapping(s)").And.Contain("consistent"));

        var clean = CliRunner.Run("scrub", pool);
        Assert.That(clean.Code, Is.Zero, clean.Err);
        Assert.That(clean.Out, Does.Contain("no damage"));
        var stats = CliRunner.Run("stats", pool, "--json");
        using (var doc = JsonDocument.Parse(stats.Out))
            Assert.That(doc.RootElement.GetProperty("dataChecksumFailures").GetInt64(), Is.GreaterThan(0), "the repair's finding is counted and kept");
        Assert.That(CliRunner.Run("check", pool, "--drop-damaged").Code, Is.EqualTo(2), "--drop-damaged alone is a usage error");
    }

    /// <summary>Two images sharing one block (dedupe), whose bytes are then damaged on disk.</summary>
    private static byte[] DamagedPoolImage(out long pbn, out long a, out long b)
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        var shared = Content.Random(4242);
        using (var volume = Volume.Format(device, TestPools.Small(), TestPools.Options(SchemeKind.Inline)))
        {
            a = volume.CreateImage("vm-a", 64L * VdoConstants.BlockSize).FirstLbn;
            b = volume.CreateImage("vm-b", 64L * VdoConstants.BlockSize).FirstLbn;
            volume.Write(a + 3, shared);
            volume.Write(b + 9, shared);
            volume.Write(a + 4, Content.Random(1));
        }
        var block = new byte[VdoConstants.BlockSize];
        for (pbn = 0; ; pbn++)
        {
            device.Read(pbn, block);
            if (block.AsSpan().SequenceEqual(shared))
                break;
        }
        block[2048] ^= 1;
        device.Write(pbn, block);
        return device.ToArray();
    }
}
