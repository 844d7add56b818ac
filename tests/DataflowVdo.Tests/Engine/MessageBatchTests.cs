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
    public void BatchedMessagesKeepWhatEightWritersWrote(int batch, bool grouped)
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        var expected = new byte[8][][];
        using (var v = Volume.Format(device, TestPools.Small(), Options(batch, grouped)))
        {
            Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, t =>
            {
                expected[t] = new byte[200][];
                for (var i = 0; i < 200; i++)
                {
                    var data = Content.Of((i + t) % 3, i % 40); // zeros, unique, compressible; duplicates across writers
                    expected[t][i] = data;
                    v.Write(t * 500 + i, data);
                    if (i % 50 == 49)
                        v.Flush();
                }
            });
            v.Flush();
        }
        using var reopened = Volume.Open(device, Options(batch, grouped));
        var buffer = new byte[VdoConstants.BlockSize];
        for (var t = 0; t < 8; t++)
        {
            for (var i = 0; i < 200; i++)
            {
                reopened.Read(t * 500 + i, buffer);
                Assert.That(buffer, Is.EqualTo(expected[t][i]), $"writer {t}, block {i}");
            }
        }
        Assert.That(reopened.Check(), Is.Empty);
    }

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
