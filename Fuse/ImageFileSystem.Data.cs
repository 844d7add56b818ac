using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DataflowVdo.Fuse.Native;

namespace DataflowVdo.Fuse;

/// <summary>Data path: open, read, write, flush, fsync, fallocate, release.</summary>
internal sealed unsafe partial class ImageFileSystem
{
    /// <summary>Largest single read buffer we allocate; the kernel never asks for more than max_pages (1 MiB).</summary>
    private const int MaxReadBytes = 16 * 1024 * 1024;

    /// <summary>Checks access for an open; on success the caller sets direct_io and fh = inode.</summary>
    public int Open(ulong inode, int flags)
    {
        int result = ResolveFile(inode, out var image);
        if (result < 0)
        {
            return result;
        }

        bool writing = (flags & FuseConstants.OAccessMode) != FuseConstants.OReadOnly;
        try
        {
            // Root passes default_permissions' mode check even on 0444 files, so this is the real gate.
            if (writing && image.ReadOnly)
            {
                return -Errno.EROFS;
            }

            // Only reachable if the kernel sends O_TRUNC (atomic_o_trunc is switched off in init).
            if (writing && (flags & FuseConstants.OTrunc) != 0 && image.Size != 0)
            {
                return -Errno.EPERM;
            }

            return 0;
        }
        catch (Exception ex)
        {
            return Fail($"open '{image.Name}'", ex);
        }
    }

    /// <summary>Reads into <paramref name="destination"/>; returns the byte count (0 at or past end of file) or -errno.</summary>
    public int Read(ulong inode, long offset, Span<byte> destination)
    {
        int result = ResolveFile(inode, out var image);
        if (result < 0)
        {
            return result;
        }

        if (offset < 0)
        {
            return -Errno.EINVAL;
        }

        try
        {
            long size = image.Size;
            if (offset >= size || destination.IsEmpty)
            {
                return 0;
            }

            int length = (int)Math.Min(destination.Length, size - offset);
            int read = image.Read(offset, destination[..length]);
            if (read < 0 || read > length)
            {
                return Fail($"read '{image.Name}'", new InvalidOperationException(
                    $"IImageFile.Read returned {read} for a {length}-byte request at offset {offset}."));
            }

            return read;
        }
        catch (Exception ex)
        {
            return Fail($"read '{image.Name}' @{offset}+{destination.Length}", ex);
        }
    }

    /// <summary>
    /// Writes <paramref name="source"/>; returns the byte count or -errno. A write that starts at
    /// or past the end fails with EFBIG ("File too large": the size is fixed); one that straddles
    /// the end is shortened, which the writer sees as a short write.
    /// </summary>
    public int Write(ulong inode, long offset, ReadOnlySpan<byte> source)
    {
        int result = ResolveFile(inode, out var image);
        if (result < 0)
        {
            return result;
        }

        if (offset < 0)
        {
            return -Errno.EINVAL;
        }

        try
        {
            if (image.ReadOnly)
            {
                return -Errno.EROFS;
            }

            if (source.IsEmpty)
            {
                return 0;
            }

            long size = image.Size;
            if (offset >= size)
            {
                return -Errno.EFBIG;
            }

            int length = (int)Math.Min(source.Length, size - offset);
            image.Write(offset, source[..length]);
            return length;
        }
        catch (Exception ex)
        {
            return Fail($"write '{image.Name}' @{offset}+{source.Length}", ex);
        }
    }

    public int Fsync(ulong inode)
    {
        int result = ResolveFile(inode, out var image);
        if (result < 0)
        {
            return result;
        }

        try
        {
            if (!image.ReadOnly)
            {
                image.Flush();
            }

            return 0;
        }
        catch (Exception ex)
        {
            return Fail($"fsync '{image.Name}'", ex);
        }
    }

    /// <summary>
    /// PUNCH_HOLE|KEEP_SIZE becomes <see cref="IImageFile.Discard"/>, ZERO_RANGE (with or without
    /// KEEP_SIZE) becomes <see cref="IImageFile.WriteZeroes"/>; every other mode (including plain
    /// preallocation, which a thin, deduplicating store cannot honour) is EOPNOTSUPP. Ranges are
    /// clamped to the file; a ZERO_RANGE that would grow the file is EFBIG.
    /// </summary>
    public int Fallocate(ulong inode, int mode, long offset, long length)
    {
        int result = ResolveFile(inode, out var image);
        if (result < 0)
        {
            return result;
        }

        const int punch = FuseConstants.FallocPunchHole | FuseConstants.FallocKeepSize;
        bool isPunch = mode == punch;
        bool isZero = (mode & ~FuseConstants.FallocKeepSize) == FuseConstants.FallocZeroRange;
        if (!isPunch && !isZero)
        {
            return -Errno.EOPNOTSUPP;
        }

        if (offset < 0 || length <= 0 || offset > long.MaxValue - length)
        {
            return -Errno.EINVAL;
        }

        try
        {
            if (image.ReadOnly)
            {
                return -Errno.EROFS;
            }

            long size = image.Size;
            bool keepSize = (mode & FuseConstants.FallocKeepSize) != 0;
            if (!keepSize && offset + length > size)
            {
                return -Errno.EFBIG;
            }

            long end = Math.Min(offset + length, size);
            if (offset >= end)
            {
                return 0;
            }

            if (isPunch)
            {
                image.Discard(offset, end - offset);
            }
            else
            {
                image.WriteZeroes(offset, end - offset);
            }

            return 0;
        }
        catch (Exception ex)
        {
            return Fail($"fallocate '{image.Name}' mode=0x{mode:x} @{offset}+{length}", ex);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnOpen(nint request, ulong inode, FuseFileInfo* fileInfo)
    {
        int result;
        try
        {
            result = FromRequest(request).Open(inode, fileInfo->Flags);
            if (result == 0)
            {
                // direct_io: every read/write reaches the image (no page cache copy, no stale data
                // across mounts, O_DIRECT works); keep_cache would be meaningless with it.
                fileInfo->BitFields = (fileInfo->BitFields | FuseFileInfo.DirectIoBit) & ~FuseFileInfo.KeepCacheBit;
                fileInfo->FileHandle = inode;
            }
        }
        catch (Exception ex)
        {
            result = Unexpected(request, "open", ex);
        }

        if (result < 0)
        {
            LibFuse.ReplyError(request, -result);
        }
        else
        {
            LibFuse.ReplyOpen(request, fileInfo);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnRead(nint request, ulong inode, nuint size, long offset, FuseFileInfo* fileInfo)
    {
        int result;
        byte[]? buffer = null;
        try
        {
            int length = (int)Math.Min(size, (nuint)MaxReadBytes);
            buffer = ArrayPool<byte>.Shared.Rent(length);
            result = FromRequest(request).Read(inode, offset, buffer.AsSpan(0, length));
        }
        catch (Exception ex)
        {
            result = Unexpected(request, "read", ex);
        }

        ReplyPooledBuffer(request, result, buffer);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnWrite(nint request, ulong inode, byte* data, nuint size, long offset, FuseFileInfo* fileInfo)
    {
        int result;
        try
        {
            // data points into libfuse's receive buffer and is only valid until we reply; the image
            // must copy what it keeps, which IImageFile.Write's contract (a span) already implies.
            result = FromRequest(request).Write(inode, offset, new ReadOnlySpan<byte>(data, checked((int)size)));
        }
        catch (Exception ex)
        {
            result = Unexpected(request, "write", ex);
        }

        if (result < 0)
        {
            LibFuse.ReplyError(request, -result);
        }
        else
        {
            LibFuse.ReplyWrite(request, (nuint)result);
        }
    }

    /// <summary>flush runs on every close(); durability is fsync's job, so it is answered at once.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnFlush(nint request, ulong inode, FuseFileInfo* fileInfo) => LibFuse.ReplyError(request, 0);

    /// <summary>No per-open state exists (fh is the inode), so release has nothing to free.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnRelease(nint request, ulong inode, FuseFileInfo* fileInfo) => LibFuse.ReplyError(request, 0);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnFsync(nint request, ulong inode, int dataSync, FuseFileInfo* fileInfo)
    {
        int result;
        try
        {
            result = FromRequest(request).Fsync(inode);
        }
        catch (Exception ex)
        {
            result = Unexpected(request, "fsync", ex);
        }

        ReplyStatus(request, result);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnFallocate(nint request, ulong inode, int mode, long offset, long length, FuseFileInfo* fileInfo)
    {
        int result;
        try
        {
            result = FromRequest(request).Fallocate(inode, mode, offset, length);
        }
        catch (Exception ex)
        {
            result = Unexpected(request, "fallocate", ex);
        }

        ReplyStatus(request, result);
    }
}
