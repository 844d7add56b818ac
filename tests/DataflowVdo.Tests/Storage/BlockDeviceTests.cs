using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Storage;

/// <summary>The devices a pool lives on: round trips, vectored I/O, bounds, and the backing file's safety.</summary>
public sealed class BlockDeviceTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"dvdo-dev-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private IBlockDevice Make(string kind, long blocks) => kind switch
    {
        "file" => FileBlockDevice.Create(Path.Combine(_dir, "pool"), blocks),
        "memory" => new MemoryBlockDevice(blocks),
        _ => new MemoryBlockDevice(blocks, preallocate: true),
    };

    [TestCase("file")]
    [TestCase("memory")]
    [TestCase("preallocated")]
    public void BlocksRoundTripSinglyAndVectored(string kind)
    {
        using var device = Make(kind, 1024);
        device.Write(5, Content.Random(1));
        device.Write(10, [Content.Random(2), Content.Random(3).AsMemory(), Content.Random(4)]);
        device.Flush();
        var one = new byte[4096];
        device.Read(5, one);
        Assert.That(one, Is.EqualTo(Content.Random(1)));
        var parts = new[] { new byte[4096], new byte[4096], new byte[4096] };
        device.Read(10, parts.Select(p => (Memory<byte>)p).ToList());
        Assert.Multiple(() =>
        {
            Assert.That(parts[0], Is.EqualTo(Content.Random(2)));
            Assert.That(parts[1], Is.EqualTo(Content.Random(3)));
            Assert.That(parts[2], Is.EqualTo(Content.Random(4)));
        });
        var untouched = new byte[8192];
        device.Read(1000, untouched);
        Assert.That(untouched, Is.All.Zero);
    }

    [TestCase("file")]
    [TestCase("memory")]
    public void IoOutsideTheDeviceOrOfPartialBlocksIsRefused(string kind)
    {
        using var device = Make(kind, 16);
        Assert.Throws<ArgumentOutOfRangeException>(() => device.Write(16, new byte[4096]));
        Assert.Throws<ArgumentOutOfRangeException>(() => device.Read(15, new byte[8192]));
        Assert.That(Assert.Throws<ArgumentException>(() => device.Write(0, new byte[100]))!.Message, Does.Contain("4096"));
    }

    [Test]
    public void ABackingFileIsPrivateAndSurvivesReopening()
    {
        var path = Path.Combine(_dir, "pool");
        using (var device = FileBlockDevice.Create(path, 64))
        {
            device.Write(3, Content.Random(9));
            device.Flush();
        }
        Assert.That(File.GetUnixFileMode(path), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        using var reopened = FileBlockDevice.Open(path);
        var block = new byte[4096];
        reopened.Read(3, block);
        Assert.That(reopened.BlockCount, Is.EqualTo(64));
        Assert.That(block, Is.EqualTo(Content.Random(9)));
    }

    /// <summary>
    /// What the file itself holds now, read through a descriptor of its own (no write cache), with
    /// libc's open: .NET's own would take a shared flock, which the device's exclusive one refuses.
    /// </summary>
    private static unsafe byte[] OnFile(string path, long pbn)
    {
        var fd = LibcOpen(path, 0);
        Assert.That(fd, Is.GreaterThanOrEqualTo(0), $"open {path}");
        try
        {
            var block = new byte[VdoConstants.BlockSize];
            fixed (byte* p = block)
                Assert.That(LibcPread(fd, p, (nint)block.Length, pbn * VdoConstants.BlockSize), Is.EqualTo((nint)block.Length));
            return block;
        }
        finally
        {
            _ = LibcClose(fd);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "open")]
    private static extern int LibcOpen(string path, int flags);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "pread")]
    private static extern unsafe nint LibcPread(int fd, byte* buffer, nint count, long offset);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "close")]
    private static extern int LibcClose(int fd);

    [Test]
    public void CachedWritesReadBackNewestFirstAndAFlushPutsThemInTheFileAsCoalescedDirectRuns()
    {
        var path = Path.Combine(_dir, "pool");
        using (var device = FileBlockDevice.Create(path, 4096))
        {
            // 300 consecutive single-block writes (more than one 1 MiB run) go out as a few runs.
            for (var i = 0; i < 300; i++)
                device.Write(i, Content.Random(100 + i));
            device.Flush();
            Assert.That(device.CacheBlocksWritten, Is.EqualTo(300));
            Assert.That(device.CacheRunsWritten, Is.InRange(2, 10), "consecutive blocks go out as runs of up to 1 MiB, not one by one");
            // Then some written again, and a vectored write across the end of them.
            for (var i = 0; i < 300; i += 7)
                device.Write(i, Content.Random(1000 + i));
            device.Write(298, [Content.Random(5000), Content.Random(5001), Content.Random(5002).AsMemory()]);
            var back = new byte[VdoConstants.BlockSize];
            for (var i = 0; i < 301; i++)
            {
                device.Read(i, back);
                Assert.That(back, Is.EqualTo(Expected(i)), $"block {i} read before the flush");
            }
            // A read across cached and uncached blocks (block 400 was never written: zeros).
            var span = new byte[4 * VdoConstants.BlockSize];
            device.Read(298, span);
            Assert.That(span.AsSpan(0, 3 * VdoConstants.BlockSize).ToArray(), Is.EqualTo(Content.Random(5000).Concat(Content.Random(5001)).Concat(Content.Random(5002)).ToArray()));
            Assert.That(span.AsSpan(3 * VdoConstants.BlockSize).ToArray(), Is.All.Zero);
            var parts = new[] { new byte[4096], new byte[8192] };
            device.Read(297, parts.Select(p => (Memory<byte>)p).ToList());
            Assert.That(parts[0], Is.EqualTo(Expected(297)));
            Assert.That(parts[1], Is.EqualTo(Expected(298).Concat(Expected(299)).ToArray()));

            device.Flush();
            Assert.That(device.CachedBlocks, Is.Zero, "a flush leaves nothing cached");
            for (var i = 0; i < 301; i++)
                Assert.That(OnFile(path, i), Is.EqualTo(Expected(i)), $"block {i} in the file after the flush");
            Assert.That(device.CacheBlocksWritten, Is.EqualTo(300 + 43 + 3));
        }

        static byte[] Expected(int i) => i switch
        {
            298 => Content.Random(5000),
            299 => Content.Random(5001),
            300 => Content.Random(5002),
            _ when i % 7 == 0 => Content.Random(1000 + i),
            _ => Content.Random(100 + i),
        };
    }

    [Test]
    [CancelAfter(30_000)]
    public void ALoneCachedBlockReachesTheFileWithoutAFlush()
    {
        // A disk's cache drains by itself; so does ours: an idle writer wakes for the first block
        // and writes it once it has waited its turn, not only when somebody flushes.
        var path = Path.Combine(_dir, "pool");
        using var device = FileBlockDevice.Create(path, 64);
        device.Write(5, Content.Random(5));
        Assert.That(SpinWait.SpinUntil(() => device.CacheBlocksWritten == 1, TimeSpan.FromSeconds(10)), Is.True, "the block is still only in the cache");
        Assert.That(OnFile(path, 5), Is.EqualTo(Content.Random(5)));
    }

    [Test]
    public void LargeVectoredWritesGoAroundTheCacheAndNoOlderCachedCopyLandsOverThem()
    {
        // /tmp's file system takes O_DIRECT here (ext4 or tmpfs); elsewhere everything stays cached.
        var path = Path.Combine(_dir, "pool");
        const int Run = 300; // more than one 1 MiB staging buffer and one cache batch
        using (var device = FileBlockDevice.Create(path, 4096))
        {
            if (OperatingSystem.IsLinux())
                Assert.That(device.DirectWrites, Is.True, "this machine's /tmp takes O_DIRECT");
            var back = new byte[VdoConstants.BlockSize];
            for (var round = 0; round < 20; round++)
            {
                // Each block cached twice (the second copy supersedes the first, which may be on
                // its way in a batch), then a direct run over them: neither copy may land after it.
                for (var copy = 0; copy < 2; copy++)
                {
                    for (var i = 0; i < Run; i++)
                        device.Write(i, Content.Random(10_000 * copy + i + round));
                }
                var run = Enumerable.Range(0, Run).Select(i => (ReadOnlyMemory<byte>)Content.Random(100_000 + i + round)).ToList();
                device.Write(0, run);
                for (var i = 0; i < Run; i += 13)
                {
                    device.Read(i, back);
                    Assert.That(back, Is.EqualTo(Content.Random(100_000 + i + round)), $"round {round}: block {i} after the direct run");
                }
                device.Flush();
                Assert.That(device.CachedBlocks, Is.Zero);
                for (var i = 0; i < Run; i += 7)
                    Assert.That(OnFile(path, i), Is.EqualTo(Content.Random(100_000 + i + round)), $"round {round}: block {i} in the file");
            }
            Assert.That(device.DirectWriteCount, Is.EqualTo(device.DirectWrites ? 20 : 0), "one direct write per large run");
            var directBefore = device.DirectWriteCount;
            // A small vectored write stays cached, and a cached write after a direct one wins.
            device.Write(20, [Content.Random(7), Content.Random(8)]);
            Assert.That(device.DirectWriteCount, Is.EqualTo(directBefore), "a 2-block write is not worth a direct write");
            device.Write(21, Content.Random(9));
            device.Read(21, back);
            Assert.That(back, Is.EqualTo(Content.Random(9)));
            device.Flush();
        }
        using var reopened = FileBlockDevice.Open(path);
        var block = new byte[VdoConstants.BlockSize];
        reopened.Read(0, block);
        Assert.That(block, Is.EqualTo(Content.Random(100_000 + 19)));
        reopened.Read(20, block);
        Assert.That(block, Is.EqualTo(Content.Random(7)));
        reopened.Read(21, block);
        Assert.That(block, Is.EqualTo(Content.Random(9)));
        reopened.Read(Run - 1, block);
        Assert.That(block, Is.EqualTo(Content.Random(100_000 + Run - 1 + 19)));
    }

    [Test]
    public void AShortRunWrittenAroundTheCacheWinsOverOlderCachedCopiesAndIsNotCached()
    {
        // A large request on a used pool: its blocks land in short runs, written by the caller.
        var path = Path.Combine(_dir, "pool");
        using (var device = FileBlockDevice.Create(path, 4096))
        {
            var back = new byte[VdoConstants.BlockSize];
            for (var round = 0; round < 20; round++)
            {
                for (var copy = 0; copy < 2; copy++)
                {
                    for (var i = 0; i < 300; i++)
                        device.Write(i, Content.Random(10_000 * copy + i + round));
                }
                // Runs of 3 blocks at every 4th block: short, so buffered, not direct.
                for (var i = 0; i + 3 <= 300; i += 4)
                    device.WriteAround(i, [Content.Random(100_000 + i + round), Content.Random(100_001 + i + round), Content.Random(100_002 + i + round)]);
                for (var i = 0; i < 300; i++)
                {
                    device.Read(i, back);
                    var expected = i % 4 == 3 ? Content.Random(10_000 + i + round) : Content.Random(100_000 + i + round);
                    Assert.That(back, Is.EqualTo(expected), $"round {round}: block {i} read back");
                }
                device.Flush();
                for (var i = 0; i < 300; i += 5)
                {
                    var expected = i % 4 == 3 ? Content.Random(10_000 + i + round) : Content.Random(100_000 + i + round);
                    Assert.That(OnFile(path, i), Is.EqualTo(expected), $"round {round}: block {i} in the file");
                }
            }
            Assert.That(device.AroundWriteCount, Is.EqualTo(20 * 75), "every short run went around the cache");
            Assert.That(device.DirectWriteCount, Is.Zero, "12 KiB runs are not worth a direct write");
            var cachedBefore = device.CacheBlocksWritten;
            device.WriteAround(400, [Content.Random(1), Content.Random(2)]);
            device.Flush();
            Assert.That(device.CacheBlocksWritten, Is.EqualTo(cachedBefore), "a run written around the cache is not copied into it");
        }
        using var reopened = FileBlockDevice.Open(path);
        var block = new byte[VdoConstants.BlockSize];
        reopened.Read(401, block);
        Assert.That(block, Is.EqualTo(Content.Random(2)));
    }

    [Test]
    [CancelAfter(60_000)]
    public void EveryWriteMadeBeforeAFlushIsInTheFileWhenItReturnsWhileOthersKeepWriting()
    {
        // I5 at the device: writers on distinct blocks overwrite them over and over (a block
        // rewritten while its previous copy is on its way must land after it); after each flush
        // the file itself must hold, for every block, at least the version written before the flush.
        var path = Path.Combine(_dir, "pool");
        const int Writers = 4, BlocksEach = 200, Rounds = 30;
        using var device = FileBlockDevice.Create(path, Writers * BlocksEach);
        var version = new int[Writers * BlocksEach];
        var stop = false;
        var threads = Enumerable.Range(0, Writers).Select(w => new Thread(() =>
        {
            var block = new byte[VdoConstants.BlockSize];
            for (var v = 1; !Volatile.Read(ref stop); v++)
            {
                for (var b = 0; b < BlocksEach; b++)
                {
                    var pbn = w * BlocksEach + b;
                    BitConverter.TryWriteBytes(block, pbn);
                    BitConverter.TryWriteBytes(block.AsSpan(8), v);
                    device.Write(pbn, block);
                    Volatile.Write(ref version[pbn], v);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        try
        {
            for (var round = 0; round < Rounds; round++)
            {
                var before = version.Select((_, i) => Volatile.Read(ref version[i])).ToArray();
                device.Flush();
                for (var pbn = 0; pbn < before.Length; pbn += 37)
                {
                    var onFile = OnFile(path, pbn);
                    if (before[pbn] == 0)
                        continue;
                    Assert.That(BitConverter.ToInt32(onFile), Is.EqualTo(pbn), $"round {round}: block {pbn} in the file holds another block");
                    Assert.That(BitConverter.ToInt32(onFile, 8), Is.GreaterThanOrEqualTo(before[pbn]), $"round {round}: block {pbn} lost a write made before the flush");
                }
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            threads.ForEach(t => t.Join());
        }
        device.Flush();
        for (var pbn = 0; pbn < version.Length; pbn++)
            Assert.That(BitConverter.ToInt32(OnFile(path, pbn), 8), Is.EqualTo(version[pbn]), $"block {pbn}: the last write wins");
        if (device.CacheBlocksWritten * VdoConstants.BlockSize >= 2 * FileBlockDevice.WritebackChunk)
            Assert.That(device.WritebacksStarted, Is.GreaterThan(0), "writeback is started behind the cache's writes");
    }

    [Test]
    [CancelAfter(30_000)]
    public void ClosingWithoutAFlushWritesOutTheCacheAndTheDeviceClosesCleanly()
    {
        var path = Path.Combine(_dir, "pool");
        var device = FileBlockDevice.Create(path, 64);
        for (var i = 0; i < 64; i++)
            device.Write(i, Content.Random(i));
        device.Dispose();
        device.Dispose(); // twice is harmless
        Assert.That(() => device.Write(0, Content.Random(0)), Throws.InstanceOf<ObjectDisposedException>());
        using var reopened = FileBlockDevice.Open(path);
        var back = new byte[VdoConstants.BlockSize];
        for (var i = 0; i < 64; i++)
        {
            reopened.Read(i, back);
            Assert.That(back, Is.EqualTo(Content.Random(i)), $"block {i}");
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public void WhenTheDiskUnderThePoolFileIsFullAFlushSaysSoAndNothingCachedIsLost()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
            Assert.Ignore("needs root to mount a 1 MiB tmpfs to fill");
        var small = Path.Combine(_dir, "small");
        Directory.CreateDirectory(small);
        Run("mount", $"-t tmpfs -o size=1m dvdo-test {small}");
        try
        {
            // A sparse 4 MiB pool file on a 1 MiB file system: the writes cannot all land. The
            // error surfaces at the write after the failed batch, or at the flush.
            using var device = FileBlockDevice.Create(Path.Combine(small, "pool"), 1024);
            var accepted = 0;
            IOException? error = null;
            for (; accepted < 1024; accepted++)
            {
                try
                {
                    device.Write(accepted, Content.Random(accepted));
                }
                catch (IOException e)
                {
                    error = e;
                    break;
                }
            }
            error ??= Assert.Throws<IOException>(device.Flush)!;
            Assert.That(error.Message, Does.Contain("pool").And.Contain("errno 28"), "ENOSPC, named");
            Assert.That(accepted, Is.GreaterThan(0));
            var back = new byte[VdoConstants.BlockSize];
            for (var i = 0; i < accepted; i += 17)
            {
                device.Read(i, back);
                Assert.That(back, Is.EqualTo(Content.Random(i)), $"block {i} still reads back (from the cache or the file)");
            }
            Assert.That(() => device.Write(0, Content.Random(0)), Throws.InstanceOf<IOException>().With.Message.Contains("earlier write"));
            Assert.That(device.Flush, Throws.InstanceOf<IOException>());
        }
        finally
        {
            Run("umount", $"-l {small}");
        }
    }

    private static void Run(string tool, string arguments)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(tool, arguments) { RedirectStandardError = true })!;
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.Zero, $"{tool} {arguments}: {stderr}");
    }

    [Test]
    public void AFileThatIsNotWholeBlocksOrMissingIsRefusedClearly()
    {
        var odd = Path.Combine(_dir, "odd");
        File.WriteAllBytes(odd, new byte[5000]);
        Assert.That(Assert.Throws<InvalidDataException>(() => FileBlockDevice.Open(odd))!.Message, Does.Contain("not a whole number"));
        Assert.That(Assert.Throws<FileNotFoundException>(() => FileBlockDevice.Open(Path.Combine(_dir, "none")))!.Message, Does.Contain("dvdo format"));
    }
}
