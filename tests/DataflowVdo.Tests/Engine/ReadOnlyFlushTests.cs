using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// I5 after an I/O error: the volume enters read-only mode, and from then on Flush returns
/// successfully without making anything durable — including writes acknowledged before the error.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class ReadOnlyFlushTests(SchemeKind scheme)
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
        device.FailNextWrite = g.IsDataBlock;   // one transient EIO on the next data-block write
        Assert.Throws<IOException>(() => volume.Write(2, Content.Random(2)));
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
}
