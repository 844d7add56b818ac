using DataflowVdo.Pipeline;
using DataflowVdo.Pipeline.Backup;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Backup;

/// <summary>
/// An ingest that fails or is interrupted leaves no image, no pending record and no leaked
/// space, and the images before it intact; a taken name is refused before anything is written.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class BackupFailureTests(SchemeCase scheme)
{
    private static readonly FormatParameters Format = TestPools.Small(812L * 64);

    /// <summary>A stream that fails (or cancels) after <c>failAfter</c> bytes.</summary>
    private sealed class FailingStream(byte[] data, long failAfter, Action? atFailure = null) : MemoryStream(data)
    {
        public long Served { get; private set; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (Served >= failAfter)
            {
                atFailure?.Invoke();
                throw new IOException("input read error (test)");
            }
            var n = base.Read(buffer, offset, (int)Math.Min(count, failAfter - Served));
            Served += n;
            return n;
        }
    }

    private static void AssertOnlyTheFirstImage(Volume volume, byte[] first, long usedBefore)
    {
        Assert.That(volume.Images.Select(i => i.Name), Is.EqualTo(new[] { "first" }));
        Assert.That(volume.GetStatistics().DataBlocksUsed, Is.EqualTo(usedBefore), "an aborted ingest must leak no space");
        Assert.That(volume.Check(), Is.Empty);
        var restored = new MemoryStream();
        BackupRestore.Run(volume, "first", restored);
        Assert.That(restored.ToArray().AsSpan().SequenceEqual(first), Is.True);
    }

    [Test]
    [CancelAfter(60_000)]
    public void ATakenOrBadNameIsRefusedBeforeAnyDataIsRead()
    {
        using var volume = BackupRoundTripTests.NewVolume(scheme);
        BackupIngest.Run(volume, "first", new MemoryStream(BackupStreams.Random(100_000, 1)), null, BackupRoundTripTests.Settings(BackupAlignment.Cdc));
        volume.CreateImage("vm", 4096 * 812);
        foreach (var name in new[] { "first", "vm", "a/b", "" })
        {
            var input = new FailingStream(BackupStreams.Random(10_000, 2), 0);
            var e = Assert.Throws<ArgumentException>(() => BackupIngest.Run(volume, name, input, null, BackupRoundTripTests.Settings(BackupAlignment.Cdc)));
            Assert.That(input.Served, Is.Zero, $"'{name}': {e!.Message}");
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public void AnInputErrorOrACancellationRollsTheIngestBack([Values] BackupAlignment alignment, [Values] bool cancel)
    {
        using var volume = BackupRoundTripTests.NewVolume(scheme);
        var first = BackupStreams.Random(300_000, 3);
        BackupIngest.Run(volume, "first", new MemoryStream(first), null, BackupRoundTripTests.Settings(alignment));
        var usedBefore = volume.GetStatistics().DataBlocksUsed;
        using var cts = new CancellationTokenSource();
        var input = new FailingStream(BackupStreams.Random(900_000, 4), 700_000, cancel ? cts.Cancel : null);
        if (cancel)
        {
            // Cancelled at the moment the input would fail: the ingest stops at its next check.
            input = new FailingStream(BackupStreams.Random(900_000, 4), 700_000, () => cts.Cancel());
            var inner = input;
            Assert.Catch<Exception>(() => BackupIngest.Run(volume, "second", inner, null, BackupRoundTripTests.Settings(alignment), cancellation: cts.Token));
        }
        else
        {
            var e = Assert.Throws<IOException>(() => BackupIngest.Run(volume, "second", input, 900_000, BackupRoundTripTests.Settings(alignment)));
            Assert.That(e!.Message, Does.Contain("input read error"));
        }
        AssertOnlyTheFirstImage(volume, first, usedBefore);
        // The name is free again.
        BackupIngest.Run(volume, "second", new MemoryStream(first), null, BackupRoundTripTests.Settings(alignment));
    }

    [Test]
    [CancelAfter(60_000)]
    public void AFullPoolFailsTheIngestCleanly()
    {
        using var volume = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks(Format, 2)), Format, TestPools.Options(scheme));
        var first = BackupStreams.Random(400_000, 5);
        BackupIngest.Run(volume, "first", new MemoryStream(first), null, BackupRoundTripTests.Settings(BackupAlignment.Cdc));
        var usedBefore = volume.GetStatistics().DataBlocksUsed;
        // 40 MB of random data (9,766 blocks) cannot fit. DeviceBlocks sizes the device from a probe
        // geometry for 2^30 blocks, whose metadata is larger than this pool's, so the pool has room
        // beyond its two slabs: with 12 MB the ingest succeeded in about 1 run in 10.
        var e = Assert.Catch<VdoException>(() => BackupIngest.Run(volume, "huge", new MemoryStream(BackupStreams.Random(40_000_000, 6)), null, BackupRoundTripTests.Settings(BackupAlignment.Cdc)));
        TestContext.Out.WriteLine(e!.Message);
        AssertOnlyTheFirstImage(volume, first, usedBefore);
    }

    [Test]
    [CancelAfter(120_000)]
    public void APowerCutAtARandomPointOfAnIngestLeavesNoHalfImageAndNoLeak()
    {
        var options = TestPools.Options(scheme);
        for (var point = 0; point < 8; point++)
        {
            var random = new Random(1000 + point);
            var device = new CrashSimulatingDevice(TestPools.DeviceBlocks(Format, 8));
            var first = BackupStreams.Random(200_000, point);
            var second = BackupStreams.TarLike(150, 1, point); // ~4.6 MB: journal blocks go out before the end
            long usedBefore;
            var volume = Volume.Format(device, Format, options);
            BackupIngest.Run(volume, "first", new MemoryStream(first), null, BackupRoundTripTests.Settings(BackupAlignment.Cdc));
            volume.Flush();
            usedBefore = volume.GetStatistics().DataBlocksUsed;
            device.CutPowerAfter(random.Next(1, 1600));
            try
            {
                BackupIngest.Run(volume, "second", new MemoryStream(second), null, BackupRoundTripTests.Settings(random.Next(2) == 0 ? BackupAlignment.Cdc : BackupAlignment.Fixed));
            }
            catch (Exception e) when (device.PowerCut && e is IOException or VdoException)
            {
            }
            var committed = !device.PowerCut;
            using var recovered = Volume.Open(device.Crash(random, tear: true), options);
            var names = recovered.Images.Select(i => i.Name).ToList();
            if (names.Contains("second"))
            {
                // The commit was durable: the backup is whole.
                var restored = new MemoryStream();
                BackupRestore.Run(recovered, "second", restored);
                Assert.That(restored.ToArray().AsSpan().SequenceEqual(second), Is.True, $"point {point}");
                recovered.RemoveImage("second");
            }
            else
            {
                Assert.That(committed, Is.False, $"point {point}: a finished ingest lost its image");
            }
            AssertOnlyTheFirstImage(recovered, first, usedBefore);
        }
    }
}
