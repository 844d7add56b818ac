using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using static DataflowVdo.Fuse.Tests.FuseTestEnvironment;

namespace DataflowVdo.Fuse.Tests;

/// <summary>
/// A real <see cref="Volume"/> behind the mount (<see cref="VolumeCatalogView"/>): unaligned
/// pread/pwrite compared byte for byte (and again after the pool is closed and reopened),
/// concurrent partial writes to one block, hole punching, read-only backup images, ENOSPC.
/// </summary>
public sealed class VolumeMountTests
{
    private const int MiB = 1024 * 1024;
    private const int Errno_ENOSPC = 28;

    private static readonly FormatParameters Small = new()
    {
        LogicalBlocks = 812 * 64,
        // No growth headroom: the default (256 x the physical size) would follow DeviceBlocks' 2^30-block probe.
        MaxLogicalBlocks = 812 * 64,
        SlabBlocks = 1024,
        JournalBlocks = 16,
        SlabJournalBlocks = 16,
        CatalogBlocks = 2,
        IndexBlocks = 16,
    };

    private static VdoOptions Options()
    {
        var o = new VdoOptions();
        o.Volume.BlockMapCacheMb = 1;
        o.Index.MemoryMb = 1;
        o.Pipeline.PackerBins = 8;
        return o;
    }

    private static long DeviceBlocks(int slabs)
    {
        var g = Geometry.Compute(Small, 1L << 30, 1);
        return g.DepotStart + (slabs * g.SlabStride);
    }

    [SetUp]
    public void RequireFuseAvailable() => RequireFuse();

    [Test]
    [CancelAfter(180_000)]
    public async Task UnalignedReadsAndWritesOnAVolumeRoundTripAndSurviveReopen(CancellationToken cancellationToken)
    {
        var device = new MemoryBlockDevice(DeviceBlocks(24));
        const long Size = (6 * MiB) + (3 * 4096);
        var model = new byte[Size];
        var random = new Random(4242);
        using (var volume = Volume.Format(device, Small, Options()))
        {
            volume.CreateImage("other", 4096 * 100);
            volume.CreateImage("disk.img", Size);
            using var mount = TestMount.Create(new VolumeCatalogView(volume));
            Assert.That(Directory.GetFiles(mount.Directory).Select(Path.GetFileName), Is.EquivalentTo(new[] { "other", "disk.img" }));
            await Io(() =>
            {
                using var handle = File.OpenHandle(mount.PathOf("disk.img"), FileMode.Open, FileAccess.ReadWrite);
                for (var i = 0; i < 120; i++)
                {
                    var offset = random.NextInt64(Size);
                    var max = (int)Math.Min(i % 4 == 0 ? 2 * MiB : 9000, Size - offset);
                    var chunk = new byte[random.Next(1, max + 1)];
                    // Some chunks repeat (dedupe) or are zeros: the volume's data reduction must not change bytes.
                    if (i % 5 != 0)
                        random.NextBytes(chunk);
                    RandomAccess.Write(handle, chunk, offset);
                    chunk.CopyTo(model, offset);
                }
                RandomAccess.FlushToDisk(handle);
            }, cancellationToken);

            await Io(() =>
            {
                using var handle = File.OpenHandle(mount.PathOf("disk.img"));
                for (var i = 0; i < 100; i++)
                {
                    var offset = random.NextInt64(Size);
                    var buffer = new byte[random.Next(1, (int)Math.Min((2 * MiB) + 7, Size - offset) + 1)];
                    Assert.That(RandomAccess.Read(handle, buffer, offset), Is.EqualTo(buffer.Length));
                    Assert.That(buffer.AsSpan().SequenceEqual(model.AsSpan((int)offset, buffer.Length)), Is.True, $"read at {offset}+{buffer.Length} differs");
                }
            }, cancellationToken);
            var whole = await Io(() => File.ReadAllBytes(mount.PathOf("disk.img")), cancellationToken);
            Assert.That(whole.AsSpan().SequenceEqual(model), Is.True);
            var other = await Io(() => File.ReadAllBytes(mount.PathOf("other")), cancellationToken);
            Assert.That(other, Is.All.Zero, "writes stay inside their image's extent");
            Assert.That(mount.Errors, Is.Empty);
        }

        // Closed cleanly by the using above; reopen the pool and read the image directly.
        using (var volume = Volume.Open(device, Options()))
        {
            var file = new VolumeImageFile(volume, volume.FindImage("disk.img")!);
            var back = new byte[Size];
            Assert.That(file.Read(0, back), Is.EqualTo(Size));
            Assert.That(back.AsSpan().SequenceEqual(model), Is.True, "bytes differ after reopen");
            Assert.That(volume.Check(), Is.Empty);
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task ConcurrentPartialWritesToOneBlockLoseNothing(CancellationToken cancellationToken)
    {
        using var volume = Volume.Format(new MemoryBlockDevice(DeviceBlocks(8)), Small, Options());
        volume.CreateImage("disk.img", 16 * 4096);
        using var mount = TestMount.Create(new VolumeCatalogView(volume));
        // 8 writers, each owning 512 bytes of the same two blocks, rewriting them many times.
        var writers = Enumerable.Range(0, 8).Select(w => Io(() =>
        {
            using var handle = File.OpenHandle(mount.PathOf("disk.img"), FileMode.Open, FileAccess.ReadWrite);
            var data = new byte[512];
            for (var round = 1; round <= 40; round++)
            {
                Array.Fill(data, (byte)((w * 16) + (round % 16) + 1));
                RandomAccess.Write(handle, data, 4096 + 100 + (w * 512)); // straddles the block boundary for w = 7
            }
            Array.Fill(data, (byte)(w + 1));
            RandomAccess.Write(handle, data, 4096 + 100 + (w * 512));
        }, cancellationToken)).ToArray();
        await Task.WhenAll(writers);
        var back = await Io(() => File.ReadAllBytes(mount.PathOf("disk.img")), cancellationToken);
        for (var w = 0; w < 8; w++)
            Assert.That(back.AsSpan(4096 + 100 + (w * 512), 512).ToArray(), Is.All.EqualTo((byte)(w + 1)), $"writer {w}'s last bytes were lost");
        Assert.That(back.AsSpan(0, 4096 + 100).ToArray(), Is.All.Zero);
        Assert.That(back.AsSpan(4096 + 100 + (8 * 512)).ToArray(), Is.All.Zero);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task PunchedHolesReadAsZerosAndFreeSpace(CancellationToken cancellationToken)
    {
        using var volume = Volume.Format(new MemoryBlockDevice(DeviceBlocks(8)), Small, Options());
        volume.CreateImage("disk.img", 64 * 4096);
        using var mount = TestMount.Create(new VolumeCatalogView(volume));
        var data = new byte[64 * 4096];
        new Random(9).NextBytes(data);
        var path = mount.PathOf("disk.img");
        await Io(() =>
        {
            // Not File.WriteAllBytes: its O_TRUNC is refused (images have a fixed size).
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
            RandomAccess.Write(handle, data, 0);
        }, cancellationToken);
        volume.Flush();
        var used = volume.GetStatistics().DataBlocksUsed;
        var punch = Run("fallocate", ["-p", "-o", "5000", "-l", "70000", path]);
        Assert.That(punch.ExitCode, Is.Zero, punch.Error);
        Array.Clear(data, 5000, 70000);
        var back = await Io(() => File.ReadAllBytes(path), cancellationToken);
        Assert.That(back.AsSpan().SequenceEqual(data), Is.True);
        volume.Flush();
        // Blocks 2..17 are whole inside [5000, 75000): 16 blocks come back. The two edge blocks,
        // now part zeros, may compress and share one packed block: one more may come back.
        Assert.That(volume.GetStatistics().DataBlocksUsed, Is.InRange(used - 17, used - 16));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task BackupImagesAreReadOnly(CancellationToken cancellationToken)
    {
        using var volume = Volume.Format(new MemoryBlockDevice(DeviceBlocks(8)), Small, Options());
        volume.CreateImage("backup", 8 * 4096, ImageKind.Backup);
        using var mount = TestMount.Create(new VolumeCatalogView(volume));
        var e = await Io(() => Assert.Catch<IOException>(() => File.OpenHandle(mount.PathOf("backup"), FileMode.Open, FileAccess.ReadWrite).Dispose()), cancellationToken);
        Assert.That(e!.Message, Does.Contain("Read-only file system"));
        if (!OperatingSystem.IsWindows())
            Assert.That(File.GetUnixFileMode(mount.PathOf("backup")) & UnixFileMode.UserWrite, Is.EqualTo(UnixFileMode.None));
        var file = new VolumeImageFile(volume, volume.FindImage("backup")!);
        Assert.That(Assert.Throws<IOException>(() => file.Write(0, new byte[10]))!.HResult, Is.EqualTo(30));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task APoolInReadOnlyModeServesReadsAndRefusesWritesWithErofs(CancellationToken cancellationToken)
    {
        // A failed flush puts the pool in read-only mode (issue 21): the mount still reads what it
        // holds and answers every write with EROFS.
        var device = new FaultInjectingDevice(new CrashSimulatingDevice(DeviceBlocks(8)));
        using var volume = Volume.Format(device, Small, Options());
        var entry = volume.CreateImage("disk.img", 64 * 4096);
        var data = new byte[4096];
        new Random(5).NextBytes(data);
        volume.Write(entry.FirstLbn, data);
        device.FailFlushes = 1;
        Assert.Catch(volume.Flush);
        Assert.That(volume.ReadOnlyReason, Does.Contain("injected flush error"), "precondition: the pool is in read-only mode");
        using var mount = TestMount.Create(new VolumeCatalogView(volume));
        var e = await Io(() => Assert.Catch<IOException>(() =>
        {
            using var handle = File.OpenHandle(mount.PathOf("disk.img"), FileMode.Open, FileAccess.ReadWrite);
            RandomAccess.Write(handle, data, 4096);
        }), cancellationToken);
        Assert.That(e!.Message, Does.Contain("Read-only file system"));
        var back = await Io(() =>
        {
            using var handle = File.OpenHandle(mount.PathOf("disk.img"));
            var b = new byte[4096];
            RandomAccess.Read(handle, b, 0);
            return b;
        }, cancellationToken);
        Assert.That(back, Is.EqualTo(data), "intact data stays readable in read-only mode");
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task ADamagedDataBlockFailsItsReadWithEioNeverWrongData(CancellationToken cancellationToken)
    {
        // Data checksums (issue 21): a flipped byte in a stored block fails the read of the
        // blocks that map to it with EIO; the rest of the file reads as written.
        var device = new MemoryBlockDevice(DeviceBlocks(8));
        using var volume = Volume.Format(device, Small, Options());
        var entry = volume.CreateImage("disk.img", 64 * 4096);
        var data = new byte[3 * 4096];
        new Random(6).NextBytes(data);
        volume.WriteBlocks(entry.FirstLbn, data);
        volume.Flush();
        var block = new byte[4096];
        long pbn = 0;
        for (; ; pbn++)
        {
            device.Read(pbn, block);
            if (block.AsSpan().SequenceEqual(data.AsSpan(4096, 4096)))
                break;
        }
        block[17] ^= 0x40;
        device.Write(pbn, block);
        using var mount = TestMount.Create(new VolumeCatalogView(volume));
        var e = await Io(() => Assert.Catch<IOException>(() =>
        {
            using var handle = File.OpenHandle(mount.PathOf("disk.img"));
            RandomAccess.Read(handle, new byte[4096], 4096);
        }), cancellationToken);
        Assert.That(e!.Message, Does.Contain("Input/output error"));
        Assert.That(mount.Errors.Select(x => x.Error.Message), Has.Some.Matches<string>(m => m.Contains($"LBN {entry.FirstLbn + 1} ", StringComparison.Ordinal) && m.Contains($"PBN {pbn}", StringComparison.Ordinal)),
            "the error the mount reports names LBN and PBN");
        var back = await Io(() =>
        {
            using var handle = File.OpenHandle(mount.PathOf("disk.img"));
            var first = new byte[4096];
            var third = new byte[4096];
            RandomAccess.Read(handle, first, 0);
            RandomAccess.Read(handle, third, 2 * 4096);
            return first.Concat(third).ToArray();
        }, cancellationToken);
        Assert.That(back, Is.EqualTo(data.AsSpan(0, 4096).ToArray().Concat(data.AsSpan(2 * 4096, 4096).ToArray()).ToArray()), "intact blocks read as written");
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task AFullPoolGivesEnospcAndTheMountSurvives(CancellationToken cancellationToken)
    {
        using var volume = Volume.Format(new MemoryBlockDevice(DeviceBlocks(2)), Small, Options());
        volume.CreateImage("disk.img", 812L * 16 * 4096); // larger than the 2 slabs of data
        using var mount = TestMount.Create(new VolumeCatalogView(volume));
        var error = await Io(() =>
        {
            using var handle = File.OpenHandle(mount.PathOf("disk.img"), FileMode.Open, FileAccess.ReadWrite);
            var chunk = new byte[MiB];
            var random = new Random(1);
            for (long offset = 0; offset < 812L * 16 * 4096; offset += MiB)
            {
                random.NextBytes(chunk);
                try
                {
                    RandomAccess.Write(handle, chunk, offset);
                }
                catch (IOException e)
                {
                    return e;
                }
            }
            return null;
        }, cancellationToken);
        Assert.That(error, Is.Not.Null, "the pool never filled up");
        Assert.That(error!.HResult & 0xffff, Is.EqualTo(Errno_ENOSPC).Or.EqualTo(0x70), error.Message);
        Assert.That(volume.ReadOnlyReason, Is.Null);
        // Still mounted and readable.
        var first = await Io(() =>
        {
            using var handle = File.OpenHandle(mount.PathOf("disk.img"));
            var b = new byte[4096];
            return RandomAccess.Read(handle, b, 0);
        }, cancellationToken);
        Assert.That(first, Is.EqualTo(4096));
    }
}
