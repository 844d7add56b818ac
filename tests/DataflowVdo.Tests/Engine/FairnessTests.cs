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

    [Test]
    [CancelAfter(300_000)]
    public void NoWriterWaitsWhileMoreThanABoundOfOthersComplete()
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
            Assert.That(worst.Max(), Is.LessThanOrEqualTo(Bound),
                $"the longest wait, in writes of others completed meanwhile (per writer: {string.Join(" ", worst)})");
        });
        Assert.That(v.Check(), Is.Empty);
    }
}
