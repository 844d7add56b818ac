using System.Runtime.InteropServices;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Storage;

/// <summary>
/// <c>Volume:PageCacheWindowMb</c>: a pool file keeps only its most recent buffered data writes
/// in the kernel's page cache (the mount's memory stays bounded, and new writes reuse the pages
/// just freed), and every block dropped from it still reads back from the disk.
/// </summary>
public sealed class PageCacheWindowTests
{
    private const int RequestBlocks = 16; // 64 KiB: below FileBlockDevice.DirectMinBytes, so buffered through the write cache
    private const int Blocks = 16384;     // 64 MiB of data

    [Test]
    public void OnlyTheMostRecentWritesStayInThePageCacheAndTheRestReadsBackFromTheDisk()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Ignore("the page-cache window uses posix_fadvise and mincore (Linux)");
        var dir = Directory.CreateTempSubdirectory("dvdo-pcw-");
        try
        {
            var path = Path.Combine(dir.FullName, "pool");
            var (dropped, resident) = WriteAndMeasure(path, windowMb: 8);
            Assert.Multiple(() =>
            {
                Assert.That(dropped, Is.GreaterThanOrEqualTo(40L << 20), "chunks older than the window are dropped");
                // 8 MiB window, the chunk being filled and pages still dirty when their chunk was dropped; not the 64 MiB written.
                Assert.That(resident, Is.LessThan(32L << 20), "bytes of the pool file in the page cache");
            });
            using var reopened = Volume.Open(FileBlockDevice.Open(path), TestPools.Options(SchemeKind.Inline), ownsDevice: true);
            var back = new byte[RequestBlocks * VdoConstants.BlockSize];
            for (var lbn = 0; lbn < Blocks; lbn += RequestBlocks)
            {
                reopened.ReadBlocks(lbn, back);
                for (var b = 0; b < RequestBlocks; b++)
                    Assert.That(back.AsSpan(b * VdoConstants.BlockSize, VdoConstants.BlockSize).SequenceEqual(Content.Random(lbn + b)), Is.True, $"LBN {lbn + b}");
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public void AWindowOfZeroLeavesThePageCacheToTheKernel()
    {
        var dir = Directory.CreateTempSubdirectory("dvdo-pcw-");
        try
        {
            var (dropped, _) = WriteAndMeasure(Path.Combine(dir.FullName, "pool"), windowMb: 0);
            Assert.That(dropped, Is.Zero);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Writes 64 MiB of distinct blocks in 64 KiB requests, flushing every 8 MiB; returns the bytes dropped and the pool file's resident bytes.</summary>
    private static (long Dropped, long Resident) WriteAndMeasure(string path, int windowMb)
    {
        var device = FileBlockDevice.Create(path, TestPools.DeviceBlocks(slabs: 20, logicalBlocks: Blocks));
        var options = TestPools.Options(SchemeKind.Inline, o => o.Volume.PageCacheWindowMb = windowMb);
        using (var volume = Volume.Format(device, TestPools.Small(Blocks), options, ownsDevice: true))
        {
            var request = new byte[RequestBlocks * VdoConstants.BlockSize];
            for (var lbn = 0; lbn < Blocks; lbn += RequestBlocks)
            {
                for (var b = 0; b < RequestBlocks; b++)
                    Content.Random(lbn + b).CopyTo(request, b * VdoConstants.BlockSize);
                volume.WriteBlocks(lbn, request);
                if ((lbn + RequestBlocks) % 2048 == 0)
                    volume.Flush(); // every 8 MiB: the chunks dropped later are written back, so the kernel can drop them
            }
        }
        // Measured once the pool is closed (and unlocked); closing writes metadata, not data.
        return (device.PageCacheBytesDropped, OperatingSystem.IsLinux() ? ResidentBytes(path) : 0);
    }

    /// <summary>Bytes of <paramref name="path"/> in the page cache (<c>mincore</c> of a shared read-only mapping).</summary>
    private static long ResidentBytes(string path)
    {
        using var handle = File.OpenHandle(path);
        var length = RandomAccess.GetLength(handle);
        var address = Mmap(IntPtr.Zero, (nuint)length, ProtRead, MapShared, (int)handle.DangerousGetHandle(), 0);
        Assert.That(address, Is.Not.EqualTo(new IntPtr(-1)), $"mmap of {path}: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var pages = new byte[(length + Environment.SystemPageSize - 1) / Environment.SystemPageSize];
            Assert.That(Mincore(address, (nuint)length, pages), Is.Zero, $"mincore of {path}: errno {Marshal.GetLastPInvokeError()}");
            return pages.LongCount(p => (p & 1) != 0) * Environment.SystemPageSize;
        }
        finally
        {
            _ = Munmap(address, (nuint)length);
        }
    }

    private const int ProtRead = 1;
    private const int MapShared = 1;

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static extern IntPtr Mmap(IntPtr address, nuint length, int protection, int flags, int fd, long offset);

    [DllImport("libc", EntryPoint = "mincore", SetLastError = true)]
    private static extern int Mincore(IntPtr address, nuint length, byte[] pages);

    [DllImport("libc", EntryPoint = "munmap")]
    private static extern int Munmap(IntPtr address, nuint length);
}
