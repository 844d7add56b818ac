using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// I5 after an I/O error: the volume enters read-only mode, and from then on a Flush that returns
/// successfully must still mean every write acknowledged before it is durable.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class ReadOnlyFlushTests(SchemeCase scheme)
{
    [Test]
    public void AFlushThatSucceedsInReadOnlyModeKeepsEveryEarlierAcknowledgedWrite([Values(1, 2)] int kind)
    {
        var options = TestPools.Options(scheme);
        var hooks = new VolumeHooks { BlockMapCachePages = 1024 };
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var device = new FaultInjectingDevice(inner);
        var volume = Volume.Format(device, TestPools.Small(), options, hooks);
        volume.Write(0, Content.Random(0));
        volume.Flush();

        var acknowledged = Content.Of(kind, 1); // random (data block) or compressible (waits in the packer)
        volume.Write(1, acknowledged);          // Async: acknowledged, durable at the next flush
        var g = volume.Geometry;
        // One transient EIO on the next metadata write (a failed data write fails only its writer).
        device.FailNextWrite = pbn => !g.IsDataBlock(pbn);
        Assert.Catch(() =>
        {
            volume.Write(2, Content.Random(2));
            volume.Flush();
        });
        Assert.That(volume.GetStatistics().ReadOnly, Is.True, "precondition: the error put the volume in read-only mode");

        bool flushSucceeded;
        try
        {
            volume.Flush();
            flushSucceeded = true;
        }
        catch (Exception)
        {
            flushSucceeded = false; // reporting the failure is fine: the caller knows durability is not promised
        }
        if (!flushSucceeded)
            return;

        using var image = inner.Crash(new Random(1), tear: false, keep: 0);
        using var recovered = Volume.Open(image, options, hooks);
        var buffer = new byte[VdoConstants.BlockSize];
        recovered.Read(1, buffer);
        Assert.That(buffer, Is.EqualTo(acknowledged), "Flush() returned success in read-only mode, yet the write acknowledged before it was lost");
    }

    [Test]
    public void AJournalBatchThatFailsWhileAppendsGoOnIsReportedAndLosesNoAcknowledgedWrite()
    {
        // Full journal blocks go out in batches on the thread pool while requests go on: an
        // error there must still reach the caller (the next write or flush fails), never leave
        // a hole in the ring behind a flush that says everything is durable.
        var options = TestPools.Options(scheme);
        var hooks = new VolumeHooks { BlockMapCachePages = 1024 };
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var device = new FaultInjectingDevice(inner);
        var volume = Volume.Format(device, TestPools.Small(), options, hooks);
        var g = volume.Geometry;
        device.FailNextWrite = pbn => pbn >= g.JournalStart && pbn < g.JournalStart + g.JournalBlocks;
        var acknowledged = 0;
        try
        {
            // Several batches' worth of entries (a batch is QueueLimit full blocks of 248), no flush.
            for (; acknowledged < 1200; acknowledged++)
                volume.Write(acknowledged, Content.Random(acknowledged));
        }
        catch (IOException)
        {
            // The failure reported by a later write: fine, the volume is read-only from here.
        }
        Assert.That(device.FailNextWrite, Is.Null, "precondition: a journal write failed");

        bool flushSucceeded;
        try
        {
            volume.Flush();
            flushSucceeded = true;
        }
        catch (Exception)
        {
            flushSucceeded = false;
        }
        if (!flushSucceeded)
        {
            Assert.That(volume.GetStatistics().ReadOnly, Is.True, "a failed journal write must put the volume in read-only mode");
            return;
        }

        using var image = inner.Crash(new Random(1), tear: false, keep: 0);
        using var recovered = Volume.Open(image, options, hooks);
        var buffer = new byte[VdoConstants.BlockSize];
        for (var lbn = 0; lbn < acknowledged; lbn++)
        {
            recovered.Read(lbn, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Random(lbn)), $"Flush() succeeded after a failed journal write, yet the write of LBN {lbn} acknowledged before it was lost");
        }
    }
}
