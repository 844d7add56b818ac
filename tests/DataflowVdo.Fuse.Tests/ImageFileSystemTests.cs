using DataflowVdo.Fuse.Native;

namespace DataflowVdo.Fuse.Tests;

/// <summary>The managed halves of the operations, called directly (no kernel involved).</summary>
public sealed class ImageFileSystemTests
{
    private MemoryImageFile _writable = null!;
    private MemoryImageFile _readOnly = null!;
    private ImageFileSystem _fileSystem = null!;
    private List<(string Operation, Exception Error)> _errors = null!;

    [SetUp]
    public void SetUp()
    {
        _writable = new MemoryImageFile("disk.img", 10_000);
        _readOnly = new MemoryImageFile("base.img", 4096, readOnly: true);
        _errors = [];
        var options = new FuseMountOptions { ErrorSink = (operation, error) => _errors.Add((operation, error)) };
        _fileSystem = new ImageFileSystem(new MemoryCatalog(_writable, _readOnly), options, 1000, 1000);
    }

    private ulong Inode(string name)
    {
        Assert.That(_fileSystem.LookUp(FuseConstants.RootInode, name, out var attributes), Is.Zero);
        return attributes.Inode;
    }

    [Test]
    public void LookupGivesStableInodesAndAttributes()
    {
        Assert.That(_fileSystem.LookUp(FuseConstants.RootInode, "disk.img", out var first), Is.Zero);
        Assert.That(_fileSystem.LookUp(FuseConstants.RootInode, "disk.img", out var again), Is.Zero);
        Assert.That(_fileSystem.LookUp(FuseConstants.RootInode, "base.img", out var other), Is.Zero);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(again.Inode, Is.EqualTo(first.Inode));
            Assert.That(other.Inode, Is.Not.EqualTo(first.Inode));
            Assert.That(first.Inode, Is.GreaterThan(FuseConstants.RootInode));
            Assert.That(first.Size, Is.EqualTo(10_000));
            Assert.That(first.Mode, Is.EqualTo(FuseConstants.SIfReg | 0x1A4u)); // 0644
            Assert.That(other.Mode, Is.EqualTo(FuseConstants.SIfReg | 0x124u)); // 0444
            Assert.That(first.Uid, Is.EqualTo(1000u));
            Assert.That(_fileSystem.LookUp(FuseConstants.RootInode, "missing", out _), Is.EqualTo(-Errno.ENOENT));
            Assert.That(_fileSystem.LookUp(first.Inode, "x", out _), Is.EqualTo(-Errno.ENOTDIR));
            Assert.That(_fileSystem.LookUp(FuseConstants.RootInode, new string('a', 256), out _), Is.EqualTo(-Errno.ENAMETOOLONG));
        }
    }

    [Test]
    public void SetAttributesRefusesRealChangesAndAcceptsTimes()
    {
        ulong inode = Inode("disk.img");
        Assert.That(_fileSystem.GetAttributes(inode, out var current), Is.Zero);
        var resize = current with { Size = 5 };
        var chmod = current with { Mode = FuseConstants.SIfReg | 0x1FF };
        var chown = current with { Uid = 0 };
        using (Assert.EnterMultipleScope())
        {
            Assert.That(_fileSystem.SetAttributes(inode, resize, FuseConstants.SetAttrSize, out _), Is.EqualTo(-Errno.EPERM));
            Assert.That(_fileSystem.SetAttributes(inode, current, FuseConstants.SetAttrSize, out _), Is.Zero, "same size is a no-op");
            Assert.That(_fileSystem.SetAttributes(inode, chmod, FuseConstants.SetAttrMode, out _), Is.EqualTo(-Errno.EPERM));
            Assert.That(_fileSystem.SetAttributes(inode, chown, FuseConstants.SetAttrUid, out _), Is.EqualTo(-Errno.EPERM));
            Assert.That(_fileSystem.SetAttributes(inode, current, FuseConstants.SetAttrAtime | FuseConstants.SetAttrMtime, out var after), Is.Zero);
            Assert.That(after.Size, Is.EqualTo(10_000));
        }
    }

    [Test]
    public void OpenRefusesWritingReadOnlyImagesAndTruncation()
    {
        const int writeOnly = 1, readWrite = 2;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(_fileSystem.Open(Inode("base.img"), FuseConstants.OReadOnly), Is.Zero);
            Assert.That(_fileSystem.Open(Inode("base.img"), readWrite), Is.EqualTo(-Errno.EROFS));
            Assert.That(_fileSystem.Open(Inode("base.img"), writeOnly), Is.EqualTo(-Errno.EROFS));
            Assert.That(_fileSystem.Open(Inode("disk.img"), readWrite), Is.Zero);
            Assert.That(_fileSystem.Open(Inode("disk.img"), readWrite | FuseConstants.OTrunc), Is.EqualTo(-Errno.EPERM));
            Assert.That(_fileSystem.Open(FuseConstants.RootInode, FuseConstants.OReadOnly), Is.EqualTo(-Errno.EISDIR));
            Assert.That(_fileSystem.Open(999, FuseConstants.OReadOnly), Is.EqualTo(-Errno.ENOENT));
        }
    }

    [Test]
    public void ReadAndWriteClampToTheFixedSize()
    {
        ulong inode = Inode("disk.img");
        byte[] data = Enumerable.Range(0, 100).Select(i => (byte)(i + 1)).ToArray();
        var buffer = new byte[200];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(_fileSystem.Write(inode, 9_950, data), Is.EqualTo(50), "straddling write is shortened");
            Assert.That(_writable.Data.AsSpan(9_950).ToArray(), Is.EqualTo(data[..50]));
            Assert.That(_fileSystem.Write(inode, 10_000, data), Is.EqualTo(-Errno.EFBIG));
            Assert.That(_fileSystem.Write(inode, -1, data), Is.EqualTo(-Errno.EINVAL));
            Assert.That(_fileSystem.Read(inode, 9_950, buffer), Is.EqualTo(50));
            Assert.That(_fileSystem.Read(inode, 10_000, buffer), Is.Zero);
            Assert.That(_fileSystem.Read(inode, 20_000, buffer), Is.Zero);
            Assert.That(_fileSystem.Write(Inode("base.img"), 0, data), Is.EqualTo(-Errno.EROFS));
        }
    }

    [Test]
    public void FallocateModesMapToDiscardAndWriteZeroes()
    {
        ulong inode = Inode("disk.img");
        _writable.Data.AsSpan().Fill(0xAB);
        const int punch = FuseConstants.FallocPunchHole | FuseConstants.FallocKeepSize;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(_fileSystem.Fallocate(inode, punch, 100, 50), Is.Zero);
            Assert.That(_writable.DiscardCount, Is.EqualTo(1));
            Assert.That(_writable.Data.AsSpan(100, 50).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
            Assert.That(_writable.Data[99], Is.EqualTo(0xAB));
            Assert.That(_writable.Data[150], Is.EqualTo(0xAB));

            Assert.That(_fileSystem.Fallocate(inode, FuseConstants.FallocZeroRange, 200, 10), Is.Zero);
            Assert.That(_fileSystem.Fallocate(inode, FuseConstants.FallocZeroRange | FuseConstants.FallocKeepSize, 9_990, 100), Is.Zero, "clamped");
            Assert.That(_writable.WriteZeroesCount, Is.EqualTo(2));
            Assert.That(_writable.Data.AsSpan(9_990).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
            Assert.That(_fileSystem.Fallocate(inode, FuseConstants.FallocZeroRange, 9_990, 100), Is.EqualTo(-Errno.EFBIG), "would grow");

            Assert.That(_fileSystem.Fallocate(inode, 0, 0, 10), Is.EqualTo(-Errno.EOPNOTSUPP), "plain preallocation");
            Assert.That(_fileSystem.Fallocate(inode, FuseConstants.FallocKeepSize, 0, 10), Is.EqualTo(-Errno.EOPNOTSUPP));
            Assert.That(_fileSystem.Fallocate(inode, punch, 0, 0), Is.EqualTo(-Errno.EINVAL));
            Assert.That(_fileSystem.Fallocate(inode, punch, 20_000, 10), Is.Zero, "past the end is a no-op");
            Assert.That(_fileSystem.Fallocate(Inode("base.img"), punch, 0, 10), Is.EqualTo(-Errno.EROFS));
        }
    }

    [Test]
    public void ImageExceptionsBecomeErrnosAndReachTheSink()
    {
        ulong inode = Inode("disk.img");
        var buffer = new byte[10];
        _writable.Fault = () => new NoSpaceException();
        Assert.That(_fileSystem.Write(inode, 0, buffer), Is.EqualTo(-Errno.ENOSPC));
        _writable.Fault = () => new IOException("disk full", Errno.ENOSPC);
        Assert.That(_fileSystem.Write(inode, 0, buffer), Is.EqualTo(-Errno.ENOSPC));
        _writable.Fault = () => new InvalidOperationException("boom");
        Assert.That(_fileSystem.Read(inode, 0, buffer), Is.EqualTo(-Errno.EIO));
        Assert.That(_fileSystem.Fsync(inode), Is.EqualTo(-Errno.EIO));
        _writable.Fault = null;
        Assert.That(_fileSystem.Read(inode, 0, buffer), Is.EqualTo(10));
        Assert.That(_errors.Select(e => e.Error.GetType()), Is.EqualTo(new[]
        {
            typeof(NoSpaceException), typeof(IOException), typeof(InvalidOperationException), typeof(InvalidOperationException),
        }));
    }

    [Test]
    public void DirectoryListingAndStatistics()
    {
        var entries = new List<DirectoryEntry>();
        Assert.That(_fileSystem.ListDirectory(FuseConstants.RootInode, entries), Is.Zero);
        Assert.That(entries.Select(e => e.Name), Is.EqualTo(new[] { ".", "..", "disk.img", "base.img" }));
        Assert.That(_fileSystem.ListDirectory(entries[2].Inode, []), Is.EqualTo(-Errno.ENOTDIR));

        Assert.That(_fileSystem.GetStatistics(out var statistics), Is.Zero);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(statistics.BlockSize, Is.EqualTo(4096));
            Assert.That(statistics.Blocks, Is.EqualTo(64UL * 1024 * 1024 * 1024 / 4096));
            Assert.That(statistics.FreeBlocks, Is.EqualTo(48UL * 1024 * 1024 * 1024 / 4096));
            Assert.That(statistics.MaxNameLength, Is.EqualTo(255));
        }
    }

    [Test]
    public void InvalidNamesAreNotServed()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ImageFileSystem.IsServableName("ok.img"), Is.True);
            Assert.That(ImageFileSystem.IsServableName(""), Is.False);
            Assert.That(ImageFileSystem.IsServableName(".."), Is.False);
            Assert.That(ImageFileSystem.IsServableName("a/b"), Is.False);
            Assert.That(ImageFileSystem.IsServableName(new string('x', 256)), Is.False);
        }
    }

    [Test]
    public void NegotiationAsksForOneMiBWritesAndDropsPageCacheFeatures()
    {
        var connection = new FuseConnInfo
        {
            MaxWrite = 128 * 1024,
            MaxReadahead = 128 * 1024,
            Capable = FuseConstants.CapAsyncRead | FuseConstants.CapAsyncDio | FuseConstants.CapWritebackCache | FuseConstants.CapAtomicOTrunc,
            Want = FuseConstants.CapAsyncRead | FuseConstants.CapAtomicOTrunc,
        };
        _fileSystem.Negotiate(ref connection);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(connection.MaxWrite, Is.EqualTo(1024u * 1024));
            Assert.That(connection.MaxReadahead, Is.EqualTo(128u * 1024), "never above what the kernel offered");
            Assert.That(connection.Want & FuseConstants.CapAsyncDio, Is.Not.Zero);
            Assert.That(connection.Want & FuseConstants.CapAsyncRead, Is.Not.Zero);
            Assert.That(connection.Want & (FuseConstants.CapWritebackCache | FuseConstants.CapAtomicOTrunc), Is.Zero);
        }
    }

    [TestCase(0, FuseMountOptions.AutomaticMaxBackground)]
    [TestCase(32, 32)]
    public void NegotiationRaisesMaxBackgroundAboveLibfuseDefault(int configured, int expected)
    {
        // libfuse's 12 makes a queue-depth-32 async direct I/O submitter block in the kernel.
        var fileSystem = new ImageFileSystem(new MemoryCatalog(), new FuseMountOptions { MaxBackground = configured }, 1000, 1000);
        var connection = new FuseConnInfo { MaxBackground = 12, CongestionThreshold = 9 };
        fileSystem.Negotiate(ref connection);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(connection.MaxBackground, Is.EqualTo((uint)expected));
            Assert.That(connection.CongestionThreshold, Is.EqualTo((uint)(expected * 3 / 4)));
        }
    }
}
