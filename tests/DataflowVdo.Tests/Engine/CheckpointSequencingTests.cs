using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// A checkpoint taken while writes go on must cover exactly the journal entries before its
/// point: every one of them applied to the block-map pages it writes. Structure locking has no
/// queue to order that, so writers are held between their append and their block-map update
/// (a test hook) while others fill the journal ring and force checkpoints; then the power is
/// cut and the recovered pool must be consistent (I7).
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class CheckpointSequencingTests(SchemeKind scheme)
{
    [Test]
    [CancelAfter(240_000)]
    public void CheckpointsTakenWhileWritesAreBetweenAppendAndBlockMapUpdateRecoverConsistently()
    {
        for (var round = 0; round < 10; round++)
        {
            var random = new Random(round);
            var hooks = new VolumeHooks
            {
                BlockMapCachePages = 1024,
                AfterJournalAppend = lbn =>
                {
                    if ((lbn + round) % 5 == 0)
                        Thread.Sleep(1);
                },
            };
            var format = TestPools.Small();
            var device = new CrashSimulatingDevice(TestPools.DeviceBlocks(format, slabs: 4));
            var options = TestPools.Options(scheme);
            var volume = Volume.Format(device, format, options, hooks);
            device.CutPowerAfter(random.Next(4_000, 30_000));
            var writers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
            {
                var r = new Random((round * 10) + t);
                try
                {
                    for (var i = 0; i < 6000; i++)
                        volume.Write(r.Next(4096), Content.Random(r.Next(100_000)));
                }
                catch (Exception e) when (e is IOException or ReadOnlyVolumeException)
                {
                    // the power cut
                }
            })).ToArray();
            Assert.That(Task.WaitAll(writers, TimeSpan.FromMinutes(1)), Is.True, "writers did not finish: deadlock");
            using var image = device.Crash(random, tear: false);
            try
            {
                volume.Dispose();
            }
            catch (Exception e) when (e is IOException or ReadOnlyVolumeException)
            {
                // the device is gone
            }
            using var recovered = Volume.Open(image, options);
            Assert.That(recovered.Check(), Is.Empty, $"round {round}: the recovered pool is inconsistent");
        }
    }
}
