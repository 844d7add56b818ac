using System.Globalization;
using static DataflowVdo.Fuse.Tests.FuseTestEnvironment;

namespace DataflowVdo.Fuse.Tests;

/// <summary>Real kernel round trips: the test process does file I/O on a mount served by the same process.</summary>
public sealed class MountedFileSystemTests
{
    private const int MiB = 1024 * 1024;

    [SetUp]
    public void RequireFuseAvailable() => RequireFuse();

    [Test]
    [CancelAfter(120_000)]
    public async Task UnalignedReadsAndWritesRoundTripByteForByte(CancellationToken cancellationToken)
    {
        var image = new MemoryImageFile("disk.img", 8 * MiB + 123);
        using var mount = TestMount.Create(new MemoryCatalog(image));
        var model = new byte[image.Size];
        var random = new Random(12345);

        await Io(() =>
        {
            using var handle = File.OpenHandle(mount.PathOf("disk.img"), FileMode.Open, FileAccess.ReadWrite);
            for (int i = 0; i < 150; i++)
            {
                long offset = random.NextInt64(image.Size);
                int maxLength = (int)Math.Min(i % 3 == 0 ? 3 * MiB : 9000, image.Size - offset);
                var chunk = new byte[random.Next(1, maxLength + 1)];
                random.NextBytes(chunk);
                RandomAccess.Write(handle, chunk, offset);
                chunk.CopyTo(model, offset);
            }
        }, cancellationToken);

        Assert.That(image.Data.AsSpan().SequenceEqual(model), Is.True, "backing bytes differ from the model");

        await Io(() =>
        {
            using var handle = File.OpenHandle(mount.PathOf("disk.img"));
            for (int i = 0; i < 100; i++)
            {
                long offset = random.NextInt64(image.Size);
                var buffer = new byte[random.Next(1, (int)Math.Min(2 * MiB + 7, image.Size - offset) + 1)];
                int read = RandomAccess.Read(handle, buffer, offset);
                Assert.That(read, Is.EqualTo(buffer.Length));
                Assert.That(buffer.AsSpan().SequenceEqual(model.AsSpan((int)offset, buffer.Length)), Is.True, $"read at {offset}+{buffer.Length} differs");
            }
        }, cancellationToken);

        byte[] whole = await Io(() => File.ReadAllBytes(mount.PathOf("disk.img")), cancellationToken);
        Assert.That(whole.AsSpan().SequenceEqual(model), Is.True);
        Assert.That(mount.Errors, Is.Empty);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task StatReportsFixedSizesAndModes(CancellationToken cancellationToken)
    {
        using var mount = TestMount.Create(new MemoryCatalog(
            new MemoryImageFile("rw.img", 1_000_001),
            new MemoryImageFile("ro.img", 4096, readOnly: true)));

        var (rw, ro, root) = await Io(() => (new FileInfo(mount.PathOf("rw.img")), new FileInfo(mount.PathOf("ro.img")), new DirectoryInfo(mount.Directory)), cancellationToken);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(rw.Length, Is.EqualTo(1_000_001));
            Assert.That(ro.Length, Is.EqualTo(4096));
            Assert.That(rw.UnixFileMode, Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead));
            Assert.That(ro.UnixFileMode, Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead));
            Assert.That(root.Attributes.HasFlag(FileAttributes.Directory), Is.True);
        }

        var stat = Run("stat", ["-c", "%s %F %h", mount.PathOf("rw.img")]);
        Assert.That(stat.Output.Trim(), Is.EqualTo("1000001 regular file 1"));
        var mountInfo = MountTable.Read().Single(m => m.MountPoint == mount.Directory);
        Assert.That((mountInfo.FileSystemType, mountInfo.Source), Is.EqualTo(("fuse.dvdo", "dvdo")));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task ReaddirListsEveryImageAcrossSeveralPages(CancellationToken cancellationToken)
    {
        // ~300 entries with long names need several 4 KiB readdir replies, exercising offsets.
        var images = Enumerable.Range(0, 300)
            .Select(i => (IImageFile)new MemoryImageFile($"volume-{i:D4}-{new string('x', 40)}.img", 4096))
            .ToArray();
        var catalog = new MemoryCatalog(images);
        using var mount = TestMount.Create(catalog);

        string[] listed = await Io(() => Directory.GetFiles(mount.Directory).Select(p => Path.GetFileName(p)).ToArray(), cancellationToken);
        Assert.That(listed, Is.EquivalentTo(images.Select(i => i.Name)));

        // The catalog is read on every lookup/readdir: new images show up without remounting.
        catalog.Add(new MemoryImageFile("late.img", 8192));
        bool exists = await Io(() => File.Exists(mount.PathOf("late.img")), cancellationToken);
        string[] again = await Io(() => Directory.GetFiles(mount.Directory).Select(p => Path.GetFileName(p)).ToArray(), cancellationToken);
        Assert.That(exists, Is.True);
        Assert.That(again, Does.Contain("late.img"));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task TruncateIsRefusedWithOperationNotPermitted(CancellationToken cancellationToken)
    {
        var image = new MemoryImageFile("disk.img", 65536);
        using var mount = TestMount.Create(new MemoryCatalog(image));
        string path = mount.PathOf("disk.img");

        var shrink = Run("truncate", ["-s", "100", path]);
        var grow = Run("truncate", ["-s", "1M", path]);
        var same = Run("truncate", ["-s", "65536", path]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(shrink.ExitCode, Is.Not.Zero);
            Assert.That(shrink.Error, Does.Contain("Operation not permitted"));
            Assert.That(grow.Error, Does.Contain("Operation not permitted"));
            Assert.That(same.ExitCode, Is.Zero, same.Error);
        }

        // O_TRUNC opens turn into setattr(size = 0), so they are refused the same way.
        Assert.That(async () => await Io(() => File.WriteAllBytes(path, [1, 2, 3]), cancellationToken), Throws.InstanceOf<UnauthorizedAccessException>().Or.InstanceOf<IOException>());
        long length = await Io(() => new FileInfo(path).Length, cancellationToken);
        Assert.That(length, Is.EqualTo(65536));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task ReadOnlyImageRefusesWritesButReads(CancellationToken cancellationToken)
    {
        var image = new MemoryImageFile("base.img", 8192, readOnly: true);
        image.Data.AsSpan().Fill(0x5A);
        using var mount = TestMount.Create(new MemoryCatalog(image));
        string path = mount.PathOf("base.img");

        // The tests usually run as root, which bypasses the 0444 mode: this checks our EROFS in open.
        var openForWrite = Assert.ThrowsAsync<IOException>(async () => await Io(() => File.OpenHandle(path, FileMode.Open, FileAccess.Write).Dispose(), cancellationToken));
        Assert.That(openForWrite!.Message, Does.Contain("Read-only file system"));

        var dd = Run("dd", ["if=/dev/zero", $"of={path}", "bs=512", "count=1", "conv=notrunc"]);
        Assert.That(dd.ExitCode, Is.Not.Zero);
        Assert.That(dd.Error, Does.Contain("Read-only file system"));

        byte[] content = await Io(() => File.ReadAllBytes(path), cancellationToken);
        Assert.That(content, Is.EqualTo(image.Data));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task PunchHoleZeroesOnlyTheRange(CancellationToken cancellationToken)
    {
        var image = new MemoryImageFile("disk.img", 256 * 1024);
        image.Data.AsSpan().Fill(0xC3);
        using var mount = TestMount.Create(new MemoryCatalog(image));
        string path = mount.PathOf("disk.img");

        var punch = Run("fallocate", ["-p", "-o", "5000", "-l", "70000", path]);
        Assert.That(punch.ExitCode, Is.Zero, punch.Error);

        byte[] content = await Io(() => File.ReadAllBytes(path), cancellationToken);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(content, Has.Length.EqualTo(256 * 1024), "KEEP_SIZE");
            Assert.That(content.AsSpan(5000, 70000).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
            Assert.That(content.AsSpan(0, 5000).IndexOfAnyExcept((byte)0xC3), Is.EqualTo(-1));
            Assert.That(content.AsSpan(75000).IndexOfAnyExcept((byte)0xC3), Is.EqualTo(-1));
            Assert.That(image.DiscardCount, Is.EqualTo(1));
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task ZeroRangeZeroesOnlyTheRange(CancellationToken cancellationToken)
    {
        var image = new MemoryImageFile("disk.img", 256 * 1024);
        image.Data.AsSpan().Fill(0x3C);
        using var mount = TestMount.Create(new MemoryCatalog(image));
        string path = mount.PathOf("disk.img");

        var zero = Run("fallocate", ["-z", "-o", "4096", "-l", "8192", path]);
        if (zero.ExitCode != 0 && zero.Error.Contains("not supported", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Ignore($"This kernel does not forward FALLOC_FL_ZERO_RANGE to FUSE ({zero.Error.Trim()}); covered by ImageFileSystemTests.");
        }

        Assert.That(zero.ExitCode, Is.Zero, zero.Error);
        byte[] content = await Io(() => File.ReadAllBytes(path), cancellationToken);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(content.AsSpan(4096, 8192).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
            Assert.That(content.AsSpan(0, 4096).IndexOfAnyExcept((byte)0x3C), Is.EqualTo(-1));
            Assert.That(content.AsSpan(12288).IndexOfAnyExcept((byte)0x3C), Is.EqualTo(-1));
            Assert.That(image.WriteZeroesCount, Is.EqualTo(1));
        }
    }

    [Test]
    [CancelAfter(90_000)]
    public async Task DdWithDirectIoRoundTrips(CancellationToken cancellationToken)
    {
        var image = new MemoryImageFile("disk.img", 8 * MiB);
        using var mount = TestMount.Create(new MemoryCatalog(image));
        string source = Path.Combine(TempRoot, $"dd-source-{Guid.NewGuid():N}");
        string copy = source + ".out";
        try
        {
            var bytes = new byte[4 * MiB];
            new Random(7).NextBytes(bytes);
            await File.WriteAllBytesAsync(source, bytes, cancellationToken);

            var write = Run("dd", [$"if={source}", $"of={mount.PathOf("disk.img")}", "bs=1M", "count=4", "seek=2", "oflag=direct", "conv=notrunc,fsync"]);
            Assert.That(write.ExitCode, Is.Zero, write.Error);
            Assert.That(image.Data.AsSpan(2 * MiB, 4 * MiB).SequenceEqual(bytes), Is.True);
            Assert.That(image.FlushCount, Is.GreaterThanOrEqualTo(1), "conv=fsync reaches IImageFile.Flush");

            var read = Run("dd", [$"if={mount.PathOf("disk.img")}", $"of={copy}", "bs=1M", "count=4", "skip=2", "iflag=direct"]);
            Assert.That(read.ExitCode, Is.Zero, read.Error);
            byte[] copied = await File.ReadAllBytesAsync(copy, cancellationToken);
            Assert.That(copied.AsSpan().SequenceEqual(bytes), Is.True);
        }
        finally
        {
            File.Delete(source);
            File.Delete(copy);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task LargeRequestsArriveAsOneMiBAndFsyncReachesFlush(CancellationToken cancellationToken)
    {
        var image = new MemoryImageFile("disk.img", 8 * MiB);
        using var mount = TestMount.Create(new MemoryCatalog(image));
        var data = new byte[4 * MiB];
        new Random(3).NextBytes(data);

        await Io(() =>
        {
            using var stream = new FileStream(mount.PathOf("disk.img"), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
            stream.Write(data);
            stream.Flush(flushToDisk: true);
            stream.Position = 0;
            stream.ReadExactly(new byte[4 * MiB]);
        }, cancellationToken);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(image.LargestWrite, Is.EqualTo(MiB), "max_write negotiated in init");
            Assert.That(image.LargestRead, Is.EqualTo(MiB));
            Assert.That(image.FlushCount, Is.EqualTo(1));
            Assert.That(image.Data.AsSpan(0, 4 * MiB).SequenceEqual(data), Is.True);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task ReadsBypassThePageCache(CancellationToken cancellationToken)
    {
        var image = new MemoryImageFile("disk.img", 65536);
        image.Data.AsSpan().Fill(1);
        using var mount = TestMount.Create(new MemoryCatalog(image));
        using var handle = await Io(() => File.OpenHandle(mount.PathOf("disk.img")), cancellationToken);
        var buffer = new byte[4096];

        await Io(() => RandomAccess.Read(handle, buffer, 8192), cancellationToken);
        Assert.That(buffer, Is.All.EqualTo(1));

        // Changed behind the kernel's back (as another writer of the volume would): direct_io means
        // the next read on the same open file goes to the image instead of a cached page.
        image.Data.AsSpan().Fill(2);
        await Io(() => RandomAccess.Read(handle, buffer, 8192), cancellationToken);
        Assert.That(buffer, Is.All.EqualTo(2));
        Assert.That(mount.Mount.FileSystem.Connection.MaxWrite, Is.EqualTo((uint)MiB));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task WritesPastTheEndFailAndReadsThereReturnNothing(CancellationToken cancellationToken)
    {
        var image = new MemoryImageFile("disk.img", 10_000);
        using var mount = TestMount.Create(new MemoryCatalog(image));
        string path = mount.PathOf("disk.img");

        // EFBIG: dd shows the errno text; .NET maps EFBIG to ArgumentOutOfRangeException.
        var dd = Run("dd", ["if=/dev/zero", $"of={path}", "bs=100", "count=1", "seek=100", "conv=notrunc"]);
        Assert.That(dd.ExitCode, Is.Not.Zero);
        Assert.That(dd.Error, Does.Contain("File too large"));

        // A straddling write lands up to the end (a short write) and then fails on the remainder.
        Assert.That(async () => await Io(() =>
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            RandomAccess.Write(handle, Enumerable.Repeat((byte)9, 100).ToArray(), 9_990);
        }, cancellationToken), Throws.InstanceOf<ArgumentOutOfRangeException>().Or.InstanceOf<IOException>());
        Assert.That(image.Data.AsSpan(9_990).IndexOfAnyExcept((byte)9), Is.EqualTo(-1));
        Assert.That(image.Data.AsSpan(0, 9_990).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));

        int read = await Io(() =>
        {
            using var handle = File.OpenHandle(path);
            return RandomAccess.Read(handle, new byte[100], 10_000);
        }, cancellationToken);
        Assert.That(read, Is.Zero);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task ImageExceptionsSurfaceAsErrnosAndTheMountSurvives(CancellationToken cancellationToken)
    {
        var image = new MemoryImageFile("disk.img", 65536);
        using var mount = TestMount.Create(new MemoryCatalog(image));
        string path = mount.PathOf("disk.img");

        image.Fault = () => new NoSpaceException();
        var full = Assert.ThrowsAsync<IOException>(async () => await Io(() =>
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            RandomAccess.Write(handle, new byte[4096], 0);
        }, cancellationToken));
        Assert.That(full!.Message, Does.Contain("No space left on device"));

        image.Fault = () => new InvalidOperationException("simulated corruption");
        var broken = Assert.ThrowsAsync<IOException>(async () => await Io(() => File.ReadAllBytes(path), cancellationToken));
        Assert.That(broken!.Message, Does.Contain("Input/output error"));

        image.Fault = null;
        byte[] content = await Io(() => File.ReadAllBytes(path), cancellationToken);
        Assert.That(content, Has.Length.EqualTo(65536));
        Assert.That(mount.Errors.Select(e => e.Error), Has.Some.InstanceOf<NoSpaceException>().And.Some.InstanceOf<InvalidOperationException>());
    }

    [Test]
    [CancelAfter(60_000)]
    public void StatfsReportsTheCatalogFigures()
    {
        var catalog = new MemoryCatalog(new MemoryImageFile("disk.img", 4096)) { TotalBytes = 10L << 30, FreeBytes = 3L << 30 };
        using var mount = TestMount.Create(catalog);

        var stat = Run("stat", ["-f", "-c", "%S %b %f %a %l", mount.Directory]);
        Assert.That(stat.ExitCode, Is.Zero, stat.Error);
        long[] figures = stat.Output.Split(' ', StringSplitOptions.TrimEntries).Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        Assert.That(figures, Is.EqualTo(new[] { 4096L, (10L << 30) / 4096, (3L << 30) / 4096, (3L << 30) / 4096, 255L }));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task NamespaceChangesAreRefused(CancellationToken cancellationToken)
    {
        using var mount = TestMount.Create(new MemoryCatalog(new MemoryImageFile("disk.img", 4096)));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(async () => await Io(() => File.Create(mount.PathOf("new.img")).Dispose(), cancellationToken), Throws.InstanceOf<UnauthorizedAccessException>().Or.InstanceOf<IOException>());
            Assert.That(async () => await Io(() => File.Delete(mount.PathOf("disk.img")), cancellationToken), Throws.InstanceOf<UnauthorizedAccessException>().Or.InstanceOf<IOException>());
            Assert.That(async () => await Io(() => Directory.CreateDirectory(mount.PathOf("dir")), cancellationToken), Throws.InstanceOf<UnauthorizedAccessException>().Or.InstanceOf<IOException>());
            Assert.That(async () => await Io(() => File.Move(mount.PathOf("disk.img"), mount.PathOf("moved.img")), cancellationToken), Throws.InstanceOf<UnauthorizedAccessException>().Or.InstanceOf<IOException>());
        }

        var touch = Run("touch", [mount.PathOf("disk.img")]);
        Assert.That(touch.ExitCode, Is.Zero, "time updates are accepted: " + touch.Error);
        var rm = Run("rm", ["-f", mount.PathOf("disk.img")]);
        Assert.That(rm.Error, Does.Contain("Operation not permitted"));
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task ConcurrentWritersOnSeveralImages(CancellationToken cancellationToken)
    {
        var images = Enumerable.Range(0, 4).Select(i => new MemoryImageFile($"d{i}.img", 4 * MiB)).ToArray();
        using var mount = TestMount.Create(new MemoryCatalog(images));
        var expected = images.Select((_, i) =>
        {
            var bytes = new byte[4 * MiB];
            new Random(100 + i).NextBytes(bytes);
            return bytes;
        }).ToArray();

        // Two writers per image on interleaved 64 KiB + 17 byte stripes keep several workers busy at once.
        var writers = Enumerable.Range(0, 8).Select(w => Io(() =>
        {
            int imageIndex = w % 4;
            using var handle = File.OpenHandle(mount.PathOf(images[imageIndex].Name), FileMode.Open, FileAccess.ReadWrite);
            const int stripe = 65536 + 17;
            for (long offset = (w / 4) * stripe; offset < 4 * MiB; offset += 2 * stripe)
            {
                int length = (int)Math.Min(stripe, 4 * MiB - offset);
                RandomAccess.Write(handle, expected[imageIndex].AsSpan((int)offset, length), offset);
            }
        }, cancellationToken));
        await Task.WhenAll(writers);

        for (int i = 0; i < images.Length; i++)
        {
            Assert.That(images[i].Data.AsSpan().SequenceEqual(expected[i]), Is.True, images[i].Name);
        }
    }
}
