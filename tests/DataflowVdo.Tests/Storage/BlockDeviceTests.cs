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

    [Test]
    public void LargeVectoredWritesBypassThePageCacheAndStayCoherentWithBufferedOnes()
    {
        // /tmp's file system takes O_DIRECT here (ext4 or tmpfs); elsewhere everything stays buffered.
        var path = Path.Combine(_dir, "pool");
        const int Run = 300; // more than one 1 MiB staging buffer
        var directBefore = 0L;
        using (var device = FileBlockDevice.Create(path, 4096))
        {
            // Cached (and dirty) blocks first, then a direct run over them: reads must see the run.
            for (var i = 0; i < 8; i++)
                device.Write(10 + i, Content.Random(i));
            var run = Enumerable.Range(0, Run).Select(i => (ReadOnlyMemory<byte>)Content.Random(100 + i)).ToList();
            device.Write(0, run);
            if (OperatingSystem.IsLinux())
                Assert.That(device.DirectWrites, Is.True, "this machine's /tmp takes O_DIRECT");
            Assert.That(device.DirectWriteCount, Is.EqualTo(device.DirectWrites ? 1 : 0));
            directBefore = device.DirectWriteCount;
            var back = new byte[VdoConstants.BlockSize];
            for (var i = 0; i < Run; i++)
            {
                device.Read(i, back);
                Assert.That(back, Is.EqualTo(Content.Random(100 + i)), $"block {i} after the direct run");
            }
            // A small vectored write stays buffered, and a buffered write after a direct one wins.
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
        Assert.That(block, Is.EqualTo(Content.Random(100)));
        reopened.Read(20, block);
        Assert.That(block, Is.EqualTo(Content.Random(7)));
        reopened.Read(21, block);
        Assert.That(block, Is.EqualTo(Content.Random(9)));
        reopened.Read(Run - 1, block);
        Assert.That(block, Is.EqualTo(Content.Random(100 + Run - 1)));
    }

    [Test]
    [CancelAfter(30_000)]
    public void BufferedWritesAreWrittenBackBehindAndTheDeviceClosesCleanly()
    {
        var path = Path.Combine(_dir, "pool");
        var blocks = (int)(FileBlockDevice.WritebackChunk / VdoConstants.BlockSize) + 16;
        var device = FileBlockDevice.Create(path, blocks);
        for (var i = 0; i < blocks; i++)
            device.Write(i, Content.Random(i % 50));
        // The writeback thread was kicked once the chunk was passed; wait for it (no timing assumption).
        var spin = new SpinWait();
        while (device.WritebacksStarted == 0)
            spin.SpinOnce(sleep1Threshold: 10);
        device.Dispose();
        device.Dispose(); // twice is harmless
        using var reopened = FileBlockDevice.Open(path);
        var back = new byte[VdoConstants.BlockSize];
        reopened.Read(blocks - 1, back);
        Assert.That(back, Is.EqualTo(Content.Random((blocks - 1) % 50)));
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
