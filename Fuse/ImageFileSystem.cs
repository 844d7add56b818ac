using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using DataflowVdo.Fuse.Native;

namespace DataflowVdo.Fuse;

/// <summary>
/// The low-level FUSE file system: a root directory (inode 1) holding the catalog's images.
/// Each operation exists twice: a managed method that returns a byte count or <c>-errno</c> (and is
/// what the unit tests call) and a static <c>[UnmanagedCallersOnly]</c> callback that decodes the
/// native arguments, calls it and sends exactly one reply. No exception may leave a callback, since
/// it would tear down the process from a libfuse thread, so every callback ends in a catch-all that
/// replies EIO.
/// </summary>
internal sealed unsafe partial class ImageFileSystem
{
    /// <summary>Block size reported by getattr/statfs; the volume's allocation granularity.</summary>
    public const int BlockSize = 4096;

    /// <summary>Linux NAME_MAX: longer names cannot be looked up.</summary>
    public const int MaxNameBytes = 255;

    private readonly IImageCatalogView _catalog;
    private readonly FuseMountOptions _options;
    private readonly uint _uid;
    private readonly uint _gid;
    private readonly Timespec _mountTime;
    private readonly Lock _inodeLock = new();
    private readonly Dictionary<string, ulong> _inodeByName = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ulong, IImageFile> _fileByInode = new();
    private ulong _nextInode = FuseConstants.RootInode + 1;

    public ImageFileSystem(IImageCatalogView catalog, FuseMountOptions options, uint uid, uint gid)
    {
        _catalog = catalog;
        _options = options;
        _uid = uid;
        _gid = gid;
        _mountTime = Timespec.FromDateTimeOffset(DateTimeOffset.UtcNow);
    }

    /// <summary>The connection parameters as left by <see cref="Negotiate"/> (before libfuse's own clamping).</summary>
    public FuseConnInfo Connection { get; private set; }

    private double AttributeTimeoutSeconds => _options.AttributeTimeout.TotalSeconds;

    /// <summary>The callback table handed to fuse_session_new (copied by libfuse).</summary>
    public static FuseLowLevelOps CreateOperations() => new()
    {
        Init = &OnInit,
        Lookup = &OnLookup,
        GetAttr = &OnGetAttr,
        SetAttr = &OnSetAttr,
        MkNod = &OnMkNod,
        MkDir = &OnMkDir,
        Unlink = &OnUnlink,
        RmDir = &OnRmDir,
        Symlink = &OnSymlink,
        Rename = &OnRename,
        Link = &OnLink,
        Create = &OnCreate,
        ReadDir = &OnReadDir,
        StatFs = &OnStatFs,
        Open = &OnOpen,
        Read = &OnRead,
        Write = &OnWrite,
        Flush = &OnFlush,
        Release = &OnRelease,
        Fsync = &OnFsync,
        Fallocate = &OnFallocate,
    };

    /// <summary>Maps an exception from an image (or from this code) to the errno the caller should see.</summary>
    public static int ErrnoFor(Exception exception) => exception switch
    {
        NoSpaceException => Errno.ENOSPC,
        // IOExceptions raised by .NET file APIs on Unix carry the raw errno in HResult.
        IOException { HResult: Errno.ENOSPC or Errno.EDQUOT } => Errno.ENOSPC,
        IOException { HResult: unchecked((int)0x80070070) } => Errno.ENOSPC, // ERROR_DISK_FULL
        IOException { HResult: Errno.EROFS } => Errno.EROFS,
        UnauthorizedAccessException => Errno.EACCES,
        ArgumentException => Errno.EINVAL,
        NotSupportedException => Errno.EOPNOTSUPP,
        _ => Errno.EIO,
    };

    /// <summary>Reports a failure to the error sink and returns the negative errno to reply with.</summary>
    public int Fail(string operation, Exception exception)
    {
        ReportError(operation, exception);
        return -ErrnoFor(exception);
    }

    public void ReportError(string operation, Exception exception)
    {
        try
        {
            _options.ErrorSink?.Invoke(operation, exception);
        }
        catch
        {
            // A throwing sink must not turn a handled failure into a process crash.
        }
    }

    /// <summary>True when <paramref name="name"/> can be served as a single path component.</summary>
    public static bool IsServableName(string name) =>
        name.Length > 0
        && name is not "." and not ".."
        && name.IndexOfAny(['/', '\0']) < 0
        && Encoding.UTF8.GetByteCount(name) <= MaxNameBytes;

    /// <summary>Finds an image by name in the catalog's current list and gives it a stable inode.</summary>
    private bool TryFindImage(string name, out ulong inode, out IImageFile image)
    {
        foreach (var candidate in _catalog.Images)
        {
            if (string.Equals(candidate.Name, name, StringComparison.Ordinal) && IsServableName(candidate.Name))
            {
                image = candidate;
                inode = InodeFor(candidate);
                return true;
            }
        }

        inode = 0;
        image = null!;
        return false;
    }

    private ulong InodeFor(IImageFile image)
    {
        lock (_inodeLock)
        {
            if (!_inodeByName.TryGetValue(image.Name, out ulong inode))
            {
                inode = _nextInode++;
                _inodeByName.Add(image.Name, inode);
            }

            // Remember the latest object under that name so inode-based calls reach it.
            _fileByInode[inode] = image;
            return inode;
        }
    }

    /// <summary>Resolves an inode the kernel got from lookup/readdir; 0 or -errno.</summary>
    private int ResolveFile(ulong inode, out IImageFile image)
    {
        if (_fileByInode.TryGetValue(inode, out image!))
        {
            return 0;
        }

        return inode == FuseConstants.RootInode ? -Errno.EISDIR : -Errno.ENOENT;
    }

    private Stat RootAttributes() => new()
    {
        Inode = FuseConstants.RootInode,
        Mode = FuseConstants.SIfDir | 0x1ED, // 0755
        LinkCount = 2,
        Uid = _uid,
        Gid = _gid,
        BlockSize = BlockSize,
        AccessTime = _mountTime,
        ModificationTime = _mountTime,
        ChangeTime = _mountTime,
    };

    private Stat FileAttributes(ulong inode, IImageFile image)
    {
        long size = image.Size;
        return new Stat
        {
            Inode = inode,
            Mode = FuseConstants.SIfReg | (image.ReadOnly ? 0x124u : 0x1A4u), // 0444 / 0644
            LinkCount = 1,
            Uid = _uid,
            Gid = _gid,
            Size = size,
            BlockSize = BlockSize,
            // Allocation is not tracked per image (dedupe/compression), so report the full extent.
            Blocks = (size + 511) / 512,
            AccessTime = _mountTime,
            ModificationTime = _mountTime,
            ChangeTime = _mountTime,
        };
    }

    private static ImageFileSystem FromRequest(nint request) => FromUserData(LibFuse.RequestUserData(request));

    private static ImageFileSystem FromUserData(void* userData) =>
        (ImageFileSystem)(GCHandle.FromIntPtr((nint)userData).Target
            ?? throw new InvalidOperationException("FUSE user data no longer refers to a file system."));

    /// <summary>Last-resort handling for an exception in the callback glue itself (not in an image).</summary>
    /// <summary>
    /// Replies with the first <paramref name="result"/> bytes of a pooled buffer, or with the error
    /// -<paramref name="result"/>, then returns the buffer: fuse_reply_buf copies before returning.
    /// </summary>
    private static unsafe void ReplyPooledBuffer(nint request, int result, byte[]? buffer)
    {
        if (result < 0)
        {
            LibFuse.ReplyError(request, -result);
        }
        else
        {
            fixed (byte* data = buffer)
            {
                LibFuse.ReplyBuffer(request, data, (nuint)result);
            }
        }

        if (buffer is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int Unexpected(nint request, string operation, Exception exception)
    {
        try
        {
            FromRequest(request).ReportError(operation, exception);
        }
        catch
        {
            // Nothing left to report to; the EIO reply still goes out.
        }

        return -Errno.EIO;
    }

    private static void ReplyStatus(nint request, int result) => LibFuse.ReplyError(request, result < 0 ? -result : 0);
}
