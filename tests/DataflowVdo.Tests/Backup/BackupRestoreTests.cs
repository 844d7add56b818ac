using DataflowVdo.Pipeline;
using DataflowVdo.Pipeline.Backup;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Backup;

/// <summary>
/// Restore's bulk reads (<see cref="Volume.ReadBackupBlocks"/>), in every scheme: a block damaged
/// on the device fails the restore naming the stream bytes and the block; a backup cannot be removed while a bulk
/// read of it is outside the volume's lock, and a removed one cannot be read.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class BackupRestoreTests(SchemeCase scheme)
{
    private const int B = VdoConstants.BlockSize;

    [Test]
    [CancelAfter(60_000)]
    public void ARestoreOfABackupDamagedOnTheDeviceFailsNamingTheBytesAndTheBlock()
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(TestPools.Small(812L * 64), 8));
        using var volume = Volume.Format(device, TestPools.Small(812L * 64), TestPools.Options(scheme));
        var data = BackupStreams.Random(300 * B, 41); // random: stored as whole blocks, not compressed
        BackupIngest.Run(volume, "nightly", new MemoryStream(data), data.Length, BackupRoundTripTests.Settings(BackupAlignment.Fixed));
        volume.Flush();
        var pbn = FindStored(device, data.AsSpan(123 * B, B));
        var block = new byte[B];
        device.Read(pbn, block);
        block[777] ^= 0x20;
        device.Write(pbn, block);

        var restored = new MemoryStream();
        var e = Assert.Throws<InvalidDataException>(() => BackupRestore.Run(volume, "nightly", restored, readers: 3));
        Assert.That(e!.Message, Does.Contain("'nightly' is damaged")
            .And.Contain($"stream bytes {123 * B}..{124 * B - 1}")
            .And.Contain($"PBN {pbn}"));
        Assert.That(e.InnerException, Is.TypeOf<DataChecksumException>());
        Assert.That(restored.ToArray().AsSpan().SequenceEqual(data.AsSpan(0, (int)restored.Length)), Is.True, "what was written before the damaged block is the original");
        Assert.That(restored.Length, Is.LessThanOrEqualTo(123 * B), "nothing from the damaged block on is handed out");
    }

    [Test]
    [CancelAfter(60_000)]
    public void ABackupBeingReadCannotBeRemovedAndARemovedOneCannotBeRead()
    {
        var device = new GatedDevice(new MemoryBlockDevice(TestPools.DeviceBlocks(TestPools.Small(812L * 64), 8)));
        using var volume = Volume.Format(device, TestPools.Small(812L * 64), TestPools.Options(scheme));
        var data = BackupStreams.Random(64 * B, 42);
        BackupIngest.Run(volume, "nightly", new MemoryStream(data), data.Length, BackupRoundTripTests.Settings(BackupAlignment.Fixed));
        volume.Flush();
        var image = volume.FindImage("nightly")!;
        device.Gate(FindStored(device, data.AsSpan(10 * B, B)));

        var read = new byte[64 * B];
        var reader = Task.Run(() => volume.ReadBackupBlocks(image, 0, read));
        Assert.That(device.Entered.Wait(TimeSpan.FromSeconds(30)), Is.True, "the read reached the device");
        var refused = Assert.Throws<InvalidOperationException>(() => volume.RemoveImage("nightly"));
        Assert.That(refused!.Message, Does.Contain("'nightly' is being read"));
        device.Release();
        reader.GetAwaiter().GetResult();
        Assert.That(read.AsSpan().SequenceEqual(data), Is.True, "the read returns the backup's blocks");

        volume.RemoveImage("nightly"); // once the read is over
        Assert.That(() => volume.ReadBackupBlocks(image, 0, read), Throws.ArgumentException.With.Message.Contains("no backup image named 'nightly'"));
        Assert.That(volume.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(60_000)]
    public void APoolOpenedForReadingRestoresEveryBackupExactlyAndRefusesFiguresItDidNotLoad()
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(TestPools.Small(812L * 64), 8));
        // Compressible (packed fragments), random (whole blocks) and duplicate-heavy (shared blocks, zeros).
        var streams = new Dictionary<string, byte[]>
        {
            ["compressible"] = BackupStreams.Compressible(200 * B + 123, 43),
            ["random"] = BackupStreams.Random(150 * B + 7, 44),
            ["duplicates"] = BackupStreams.DuplicateHeavy(180 * B, 45),
        };
        using (var volume = Volume.Format(device, TestPools.Small(812L * 64), TestPools.Options(scheme)))
        {
            foreach (var (name, data) in streams)
                BackupIngest.Run(volume, name, new MemoryStream(data), data.Length, BackupRoundTripTests.Settings(BackupAlignment.Cdc));
        }

        using var reading = Volume.OpenForReading(device, TestPools.Options(scheme));
        foreach (var (name, data) in streams)
        {
            var restored = new MemoryStream();
            var (bytes, _) = BackupRestore.Run(reading, name, restored, readers: 3);
            Assert.That(bytes, Is.EqualTo(data.Length), name);
            Assert.That(restored.ToArray().AsSpan().SequenceEqual(data), Is.True, $"{name} restored byte for byte");
        }
        Assert.Throws<InvalidOperationException>(() => reading.GetStatistics(), "no reference counts: no space figures");
        Assert.Throws<InvalidOperationException>(() => reading.Check(), "no reference counts: nothing to check them against");
        Assert.Throws<ReadOnlyVolumeException>(() => reading.Write(0, new byte[B]));
    }

    /// <summary>The PBN of the one device block holding <paramref name="content"/>.</summary>
    private static long FindStored(IBlockDevice device, ReadOnlySpan<byte> content)
    {
        var block = new byte[B];
        var found = -1L;
        for (var pbn = 0L; pbn < device.BlockCount; pbn++)
        {
            device.Read(pbn, block);
            if (block.AsSpan().SequenceEqual(content))
            {
                Assert.That(found, Is.EqualTo(-1), "the block is stored once");
                found = pbn;
            }
        }
        Assert.That(found, Is.Not.EqualTo(-1), "the block is stored on the device");
        return found;
    }

    /// <summary>A device whose reads of one chosen block wait at a gate until released.</summary>
    private sealed class GatedDevice(IBlockDevice inner) : IBlockDevice
    {
        private long _gated = -1;
        private readonly ManualResetEventSlim _open = new(false);

        public ManualResetEventSlim Entered { get; } = new(false);

        public long BlockCount => inner.BlockCount;

        public void Gate(long pbn) => Volatile.Write(ref _gated, pbn);

        public void Release() => _open.Set();

        public void Read(long pbn, Span<byte> destination)
        {
            Wait(pbn, destination.Length / B);
            inner.Read(pbn, destination);
        }

        public void Read(long pbn, IReadOnlyList<Memory<byte>> destinations)
        {
            Wait(pbn, destinations.Sum(d => d.Length) / B);
            inner.Read(pbn, destinations);
        }

        public void Write(long pbn, ReadOnlySpan<byte> source) => inner.Write(pbn, source);

        public void Write(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources) => inner.Write(pbn, sources);

        public void Flush() => inner.Flush();

        public void Dispose() => inner.Dispose();

        private void Wait(long pbn, int blocks)
        {
            var gated = Volatile.Read(ref _gated);
            if (gated < pbn || gated >= pbn + blocks)
                return;
            Entered.Set();
            _open.Wait(TimeSpan.FromSeconds(30));
        }
    }
}
