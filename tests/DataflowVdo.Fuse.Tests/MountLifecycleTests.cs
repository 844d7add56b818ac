using static DataflowVdo.Fuse.Tests.FuseTestEnvironment;

namespace DataflowVdo.Fuse.Tests;

/// <summary>Mount/unmount behaviour: explicit unmount, external fusermount3 -u, busy mounts, bad input.</summary>
public sealed class MountLifecycleTests
{
    [SetUp]
    public void RequireFuseAvailable() => RequireFuse();

    [Test]
    [CancelAfter(60_000)]
    public async Task UnmountEndsTheSessionAndIsIdempotent(CancellationToken cancellationToken)
    {
        using var mount = TestMount.Create(new MemoryCatalog(new MemoryImageFile("disk.img", 4096)));
        Assert.That(IsMounted(mount.Directory), Is.True);
        Assert.That(mount.Mount.IsMounted, Is.True);

        mount.Mount.Unmount();
        await mount.Mount.WaitAsync(cancellationToken).WaitAsync(IoTimeout, cancellationToken);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(mount.Mount.IsMounted, Is.False);
            Assert.That(IsMounted(mount.Directory), Is.False);
            Assert.That(mount.Mount.Unmount, Throws.Nothing);
            Assert.That(mount.Errors, Is.Empty);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task ExternalFusermountUnmountEndsTheSession(CancellationToken cancellationToken)
    {
        using var mount = TestMount.Create(new MemoryCatalog(new MemoryImageFile("disk.img", 4096)));
        await Io(() => File.ReadAllBytes(mount.PathOf("disk.img")), cancellationToken);

        var result = Run("fusermount3", ["-u", mount.Directory]);
        Assert.That(result.ExitCode, Is.Zero, result.Error);

        await mount.Mount.WaitAsync(cancellationToken).WaitAsync(IoTimeout, cancellationToken);
        Assert.That(mount.Mount.IsMounted, Is.False);
        Assert.That(IsMounted(mount.Directory), Is.False);
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task UnmountWithAnOpenFileDoesNotHang(CancellationToken cancellationToken)
    {
        var image = new MemoryImageFile("disk.img", 65536);
        using var mount = TestMount.Create(new MemoryCatalog(image));
        using var handle = await Io(() => File.OpenHandle(mount.PathOf("disk.img"), FileMode.Open, FileAccess.ReadWrite), cancellationToken);

        await Io(mount.Mount.Unmount, cancellationToken);
        await mount.Mount.WaitAsync(cancellationToken).WaitAsync(IoTimeout, cancellationToken);
        Assert.That(IsMounted(mount.Directory), Is.False);

        // The connection is gone: the open handle now fails instead of blocking.
        Assert.That(async () => await Io(() => RandomAccess.Read(handle, new byte[16], 0), cancellationToken), Throws.InstanceOf<IOException>());
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task TwoMountsInOneProcessAreIndependent(CancellationToken cancellationToken)
    {
        var first = new MemoryImageFile("a.img", 4096);
        var second = new MemoryImageFile("b.img", 4096);
        using var one = TestMount.Create(new MemoryCatalog(first));
        using var two = TestMount.Create(new MemoryCatalog(second));

        await Io(() =>
        {
            using (var handle = File.OpenHandle(one.PathOf("a.img"), FileMode.Open, FileAccess.Write))
            {
                RandomAccess.Write(handle, new byte[] { 1, 2, 3 }, 0);
            }

            using (var handle = File.OpenHandle(two.PathOf("b.img"), FileMode.Open, FileAccess.Write))
            {
                RandomAccess.Write(handle, new byte[] { 7, 8, 9 }, 0);
            }
        }, cancellationToken);

        one.Mount.Unmount();
        byte[] stillServed = await Io(() => File.ReadAllBytes(two.PathOf("b.img")), cancellationToken);
        Assert.That(first.Data[..3], Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(stillServed[..3], Is.EqualTo(new byte[] { 7, 8, 9 }));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task AutoUnmountMountsThroughFusermount(CancellationToken cancellationToken)
    {
        // auto_unmount makes libfuse fork/exec fusermount3 even as root, a different mount path.
        var image = new MemoryImageFile("disk.img", 4096);
        using var mount = TestMount.Create(new MemoryCatalog(image), new FuseMountOptions { AutoUnmount = true });
        await Io(() =>
        {
            using var handle = File.OpenHandle(mount.PathOf("disk.img"), FileMode.Open, FileAccess.Write);
            RandomAccess.Write(handle, new byte[] { 42 }, 100);
        }, cancellationToken);
        Assert.That(image.Data[100], Is.EqualTo(42));

        mount.Mount.Unmount();
        await mount.Mount.WaitAsync(cancellationToken).WaitAsync(IoTimeout, cancellationToken);
        Assert.That(IsMounted(mount.Directory), Is.False);
    }

    [Test]
    public void MountingAMissingDirectoryThrows()
    {
        string missing = Path.Combine(TempRoot, "does-not-exist-" + Guid.NewGuid().ToString("N"));
        Assert.That(() => FuseMount.Mount(new MemoryCatalog(), missing), Throws.InstanceOf<DirectoryNotFoundException>());
    }
}
