using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// <c>Pipeline:MessageBatch</c> (MessagePassing): requests bound for one block travel together in
/// one message. Writers' data survives, crashes recover, a flush still waits for every write
/// acknowledged before it, and the batches really carry several requests (fewer handoffs).
/// </summary>
public sealed class MessageBatchTests
{
    private static VdoOptions Options(int batch, bool grouped = false, Action<VdoOptions>? tweak = null) =>
        TestPools.Options(SchemeKind.MessagePassing, o =>
        {
            o.Pipeline.MessageBatch = batch;
            if (grouped)
            {
                foreach (var kind in PipelineOptions.ExecutorKinds)
                    o.Pipeline.Executors[kind] = "all";
            }
            tweak?.Invoke(o);
        });

    [TestCase(8, false)]
    [TestCase(64, false)]
    [TestCase(8, true)]
    [CancelAfter(120_000)]
    public void BatchedMessagesKeepWhatEightWritersWrote(int batch, bool grouped) =>
        ParallelWriters.KeepWhatTheyWrote(Options(batch, grouped), writers: 8, blocks: 200, flushEvery: 50);

    [Test]
    [CancelAfter(300_000)]
    public void BatchedMessagesRecoverFromCrashes()
    {
        for (var point = 0; point < 16; point++)
        {
            var policy = point % 3 == 0 ? WritePolicy.Sync : WritePolicy.Async;
            CrashRecoveryTests.RunCrashPoint(Options(point % 2 == 0 ? 8 : 64, grouped: point % 4 == 1, tweak: o => o.Volume.WritePolicy = policy),
                4_000_000 + point, tear: point % 2 == 0, maxOps: 400);
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public void ABatchCarriesSeveralRequestsWhenManyAreInFlight()
    {
        long Handoffs(int batch)
        {
            using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), Options(batch));
            var data = Enumerable.Range(0, 64).SelectMany(i => Content.Of(1, i)).ToArray();
            for (var round = 0; round < 8; round++)
                v.WriteBlocks(round * 64, data); // 64 blocks in flight at once, through the same blocks
            v.Flush();
            return v.PipelineHandoffs;
        }
        Assert.That(Handoffs(16), Is.LessThan(Handoffs(1) * 3 / 4));
    }
}
