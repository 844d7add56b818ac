using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// A checkpoint taken while writes go on must cover exactly the journal entries before its
/// point: every one of them applied to the block-map pages it writes. Structure locking has no
/// queue to order that, so writers are held between their append and their block-map update
/// (a test hook) while others fill the journal ring and force checkpoints; then the power is
/// cut and the recovered pool must be consistent (I7). The hold waits for other writers' appends, not for time.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class CheckpointSequencingTests(SchemeCase scheme)
{
    [Test]
    [CancelAfter(240_000)]
    public void CheckpointsTakenWhileWritesAreBetweenAppendAndBlockMapUpdateRecoverConsistently()
    {
        for (var round = 0; round < scheme.Rounds(10); round++)
        {
            var random = new Random(round);
            long appended = 0;
            var holding = 0;
            var running = 4;
            var hooks = new VolumeHooks
            {
                BlockMapCachePages = 1024,
                AfterJournalAppend = lbn =>
                {
                    // Hold one writer at a time between its append and its block-map update until the
                    // others have appended three more entries, stopped, or made no progress for a
                    // while (appends wait while a checkpoint waits for this very write): a checkpoint
                    // can begin in that window, and must wait for the held write.
                    var seen = Interlocked.Increment(ref appended);
                    if ((lbn + round) % 5 != 0 || Interlocked.CompareExchange(ref holding, 1, 0) != 0)
                        return;
                    var spin = new SpinWait();
                    while (Volatile.Read(ref appended) < seen + 3 && Volatile.Read(ref running) > 1 && spin.Count < 200)
                        spin.SpinOnce();
                    Volatile.Write(ref holding, 0);
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
                finally
                {
                    Interlocked.Decrement(ref running);
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
