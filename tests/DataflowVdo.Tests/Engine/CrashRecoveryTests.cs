using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// Crash points (I5, I7): random workloads on the crash-simulating device, cut at a random
/// moment (between operations or in the middle of one), the unflushed writes kept at random and
/// optionally torn at 512 bytes. After recovery every flushed write reads back, every block
/// reads as one of the values written to it since the last flush (never torn, never another
/// block's data), and the check is clean. <c>DATAFLOWVDO_CRASH_POINTS</c> sets the count per case
/// (default 100) for longer runs.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class CrashRecoveryTests(SchemeCase scheme)
{
    private const int Lbns = 48;
    private const int Spread = 811; // each LBN on its own block-map page
    private const long Logical = (Lbns * Spread) + 1;

    private int Points => scheme.Rounds(
        int.TryParse(Environment.GetEnvironmentVariable("DATAFLOWVDO_CRASH_POINTS"), out var n) && n > 0 ? n : 100);

    [Test]
    [CancelAfter(300_000)]
    public void RandomCrashPointsKeepFlushedWritesAndNeverTearABlock(
        [Values(WritePolicy.Async, WritePolicy.Sync)] WritePolicy policy,
        [Values(false, true)] bool tear)
    {
        var failures = new List<string>();
        for (var point = 0; point < Points; point++)
        {
            var seed = HashCode.Combine(point, policy, tear) & 0x7fffffff;
            try
            {
                RunCrashPoint(seed, policy, tear, maxOps: 300);
            }
            catch (Exception e) when (e is AssertionException or InvalidOperationException or VdoException)
            {
                failures.Add($"seed {seed}: {e.Message}");
                if (failures.Count >= 3)
                    break;
            }
        }
        Assert.That(failures, Is.Empty);
    }

    [Test]
    [CancelAfter(300_000)]
    public void CrashesAcrossJournalWrapAndCheckpointsRecover()
    {
        // Long runs on a 16-block journal ring: checkpoints and ring reuse (I6) happen many times.
        for (var point = 0; point < Math.Max(scheme.Rounds(4), Points / 10); point++)
            RunCrashPoint(1_000_000 + point, WritePolicy.Async, tear: true, maxOps: 9000);
    }

    [Test]
    [CancelAfter(300_000)]
    public void CrashesWhileJournalBlocksGoOutInBatchesRecover()
    {
        // A ring long enough that full journal blocks are written 32 at a time behind one
        // preflush, and slab journals long enough not to force commits: a power cut can land
        // in the middle of a batch, keeping later blocks of it and tearing earlier ones.
        var format = TestPools.Small(Logical) with { JournalBlocks = 128, SlabJournalBlocks = 128 };
        for (var point = 0; point < Math.Max(scheme.Rounds(8), Points / 4); point++)
            RunCrashPoint(2_000_000 + point, WritePolicy.Async, tear: true, maxOps: 12000, format);
    }

    private void RunCrashPoint(int seed, WritePolicy policy, bool tear, int maxOps, FormatParameters? format = null) =>
        RunCrashPoint(TestPools.Options(scheme, o => o.Volume.WritePolicy = policy), seed, tear, maxOps, format);

    /// <summary>
    /// One crash point with <paramref name="options"/>: random writes, discards, reads and flushes,
    /// a power cut (maybe mid-run), recovery; then every LBN reads its flushed value or one written
    /// since, and check is clean. Throws <see cref="AssertionException"/> otherwise.
    /// </summary>
    internal static void RunCrashPoint(VdoOptions options, int seed, bool tear, int maxOps, FormatParameters? format = null)
    {
        var random = new Random(seed);
        var policy = options.Volume.WritePolicy;
        // A tiny cache evicts (double-write batches flush the device); a large one never does.
        var hooks = new VolumeHooks { BlockMapCachePages = random.Next(2) == 0 ? 8 : 1024 };
        format ??= TestPools.Small(Logical);
        var device = new CrashSimulatingDevice(TestPools.DeviceBlocks(format, slabs: 4));
        var volume = Volume.Format(device, format, options, hooks);
        var durable = new Dictionary<long, byte[]>();
        var possible = new Dictionary<long, List<byte[]>>();
        var latest = new Dictionary<long, byte[]>();
        var zero = new byte[VdoConstants.BlockSize];
        var buffer = new byte[VdoConstants.BlockSize];
        if (random.Next(2) == 0)
            device.CutPowerAfter(random.Next(1, maxOps * 2));
        var ops = random.Next(1, maxOps);
        // Some runs flush often, some rarely, some never: full journal blocks then go out unflushed.
        var flushPermille = new[] { 0, 2, 20, 100 }[random.Next(4)];
        try
        {
            for (var k = 0; k < ops; k++)
            {
                var lbn = (long)random.Next(Lbns) * Spread;
                var op = random.Next(1000);
                if (op < flushPermille)
                {
                    volume.Flush();
                    foreach (var (l, d) in latest)
                        MakeDurable(durable, possible, l, d);
                }
                else if (op < 800)
                {
                    var discard = op >= 720;
                    var data = discard ? zero : Content.Of(random.Next(3), random.Next(24)); // discards read as zeros
                    Remember(possible, lbn, data);
                    latest[lbn] = data;
                    if (!discard)
                        volume.Write(lbn, data);
                    else
                        volume.Discard(lbn);
                    if (policy == WritePolicy.Sync)
                        MakeDurable(durable, possible, lbn, data);
                }
                else
                {
                    volume.Read(lbn, buffer);
                    var expected = latest.TryGetValue(lbn, out var d) ? d : zero;
                    Assert.That(buffer.AsSpan().SequenceEqual(expected), Is.True, $"LBN {lbn} before the crash");
                }
            }
        }
        catch (Exception e) when (device.PowerCut && e is IOException or ReadOnlyVolumeException)
        {
            // the power went out in the middle of an operation: its value stays merely possible
        }

        var image = device.Crash(random, tear);
        using var recovered = Volume.Open(image, options, hooks);
        Assert.That(recovered.Recovered, Is.True, "an unclean shutdown must trigger recovery");
        for (var i = 0; i < Lbns; i++)
        {
            var lbn = (long)i * Spread;
            recovered.Read(lbn, buffer);
            var allowed = new List<byte[]> { durable.TryGetValue(lbn, out var d) ? d : zero };
            if (possible.TryGetValue(lbn, out var p))
                allowed.AddRange(p);
            if (!allowed.Exists(a => a.AsSpan().SequenceEqual(buffer)))
                throw new AssertionException($"LBN {lbn} reads data that was never written to it since the last flush (torn or another block's)");
        }
        var problems = recovered.Check();
        if (problems.Count > 0)
            throw new AssertionException("check after recovery: " + string.Join("; ", problems));
    }

    private static void Remember(Dictionary<long, List<byte[]>> possible, long lbn, byte[] data)
    {
        if (!possible.TryGetValue(lbn, out var list))
            possible[lbn] = list = [];
        list.Add(data);
    }

    private static void MakeDurable(Dictionary<long, byte[]> durable, Dictionary<long, List<byte[]>> possible, long lbn, byte[] data)
    {
        durable[lbn] = data;
        possible.Remove(lbn);
    }
}
