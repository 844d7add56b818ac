using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// No caller starves: many writers on a few LBNs (every write contends for a logical lock, a
/// hash lock or the packer), a fixed count of writes each. Every writer completes, and no write
/// waits while more than a bound of other writes complete. The bound is counted in completed
/// writes of others, not in time, so the test does not depend on the machine's speed.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class FairnessTests(SchemeCase scheme)
{
    private const int Writers = 16;
    private const int WritesEach = 1000;
    private const int Lbns = 6;

    // A fair driver lets a write wait for the writes queued ahead of it (on its LBN, in the
    // runners' line) while the others go on: measured on 2 cores, at most 90-300 writes of others
    // (MessagePassing's FIFO queues: 110-180). Without the runner gate (Pipeline:Runners=-1),
    // running callers overtook sleeping ones at the zone locks: Inline 690-990, StructureLocking
    // 430-540.
    private const long Bound = 24 * Writers;

    // The count includes the time a writer's thread is not on a CPU at all: with 16 threads on
    // 2 cores the OS may hold one off for a time slice while the others complete hundreds of
    // writes. Measured (12 rounds per scheme case and setting, 7 Dec 2026): with the gate, the
    // longest wait passed the bound in 1 round of 84 (StructureLocking+front-back, 392) and in
    // the CI suite once (StructureLocking, 389); without it, it stayed under the bound in 5
    // rounds of 48. So the bound must hold in the better of two rounds: with the gate that
    // failed in none of 21 runs; without it, 3 of the 4 lock-driver cases failed it in each of
    // 3 runs.
    private const int Rounds = 2;

    [Test]
    [CancelAfter(300_000)]
    public void NoWriterWaitsWhileMoreThanABoundOfOthersComplete()
    {
        var rounds = new List<long[]>();
        for (var round = 0; round < Rounds; round++)
        {
            var worst = RunRound();
            rounds.Add(worst);
            if (worst.Max() <= Bound)
                break;
        }
        Assert.That(rounds.Min(w => w.Max()), Is.LessThanOrEqualTo(Bound),
            $"the longest wait, in writes of others completed meanwhile, in each round (per writer: {string.Join("; ", rounds.Select(w => string.Join(" ", w)))})");
    }

    /// <summary>One round on a new volume: every writer completes, the volume checks clean; returns each writer's longest wait.</summary>
    private long[] RunRound()
    {
        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), TestPools.Options(scheme));
        long completed = 0;
        var worst = new long[Writers];
        var done = new int[Writers];
        var threads = Enumerable.Range(0, Writers).Select(w => new Thread(() =>
        {
            for (var i = 0; i < WritesEach; i++)
            {
                // Zeros, duplicates (one of 4 contents across all writers) and unique blocks.
                var data = (i % 3) switch
                {
                    0 => Content.Zero(),
                    1 => Content.Of(2, i % 4),
                    _ => Content.Of(1, (w * WritesEach) + i),
                };
                var before = Interlocked.Read(ref completed);
                v.Write((w + i) % Lbns, data);
                var passed = Interlocked.Increment(ref completed) - 1 - before;
                worst[w] = Math.Max(worst[w], passed);
                if (i % 100 == 99)
                    v.Flush();
            }
            done[w] = 1;
        }) { IsBackground = true, Name = $"fair-{w}" }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Multiple(() =>
        {
            Assert.That(done, Has.All.EqualTo(1), "every writer completed");
            Assert.That(Interlocked.Read(ref completed), Is.EqualTo((long)Writers * WritesEach));
        });
        Assert.That(v.Check(), Is.Empty);
        return worst;
    }
}
