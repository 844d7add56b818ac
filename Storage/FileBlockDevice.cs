using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DataflowVdo.Storage;

/// <summary>
/// A device in a plain file (or a block device node): positional I/O through
/// <see cref="RandomAccess"/> on one <see cref="SafeFileHandle"/>, and <c>fdatasync</c> on flush.
/// New backing files are created with mode 0600: they hold the users' data. A writable device
/// holds an exclusive <c>flock</c> on the file for its lifetime, so a second writer (another
/// command, a second mount) is refused instead of corrupting the pool.
/// </summary>
public sealed partial class FileBlockDevice : IBlockDevice
{
    private readonly SafeFileHandle _handle;
    private FileStream? _owner;

    private FileBlockDevice(SafeFileHandle handle, string path, long blockCount)
    {
        _handle = handle;
        Path = path;
        BlockCount = blockCount;
    }

    /// <summary>The backing file's path.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public long BlockCount { get; }

    /// <summary>Creates (or truncates) a sparse backing file of <paramref name="blockCount"/> blocks, mode 0600.</summary>
    public static FileBlockDevice Create(string path, long blockCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockCount);
        var options = new FileStreamOptions
        {
            // Not FileMode.Create: the old contents must survive until we hold the lock (a mounted pool).
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.Read,
        };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        // FileStream is the only API that creates with a mode (no 0644 window); RandomAccess uses its handle.
        FileStream stream;
        try
        {
            stream = new FileStream(path, options);
        }
        catch (IOException e) when (e.HResult is SharingViolation or EWouldBlock)
        {
            throw InUse(path, e);
        }
        var handle = stream.SafeFileHandle;
        try
        {
            LockExclusive(handle, path);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        RandomAccess.SetLength(handle, 0);
        RandomAccess.SetLength(handle, blockCount * VdoConstants.BlockSize);
        var created = new FileBlockDevice(handle, path, blockCount) { _owner = stream };
        created.OpenDirect();
        return created;
    }

    /// <summary>Opens an existing backing file; its length must be a whole number of blocks.</summary>
    public static FileBlockDevice Open(string path, bool readOnly = false)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"pool '{path}' does not exist (create it with 'dvdo format').", path);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.Read);
        }
        catch (IOException e) when (e.HResult is SharingViolation or EWouldBlock)
        {
            throw InUse(path, e);
        }
        if (!readOnly)
        {
            try
            {
                LockExclusive(handle, path);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }
        var length = RandomAccess.GetLength(handle);
        if (length == 0 || length % VdoConstants.BlockSize != 0)
        {
            handle.Dispose();
            throw new InvalidDataException($"pool '{path}' is {length} bytes, not a whole number of {VdoConstants.BlockSize}-byte blocks: not a DataflowVdo pool.");
        }
        var device = new FileBlockDevice(handle, path, length / VdoConstants.BlockSize);
        if (!readOnly)
            device.OpenDirect();
        return device;
    }

    /// <inheritdoc />
    public void Read(long pbn, Span<byte> destination)
    {
        DeviceChecks.CheckRange(pbn, destination.Length, BlockCount);
        var offset = pbn * VdoConstants.BlockSize;
        while (!destination.IsEmpty)
        {
            var n = RandomAccess.Read(_handle, destination, offset);
            if (n <= 0)
            {
                destination.Clear(); // beyond a short file: sparse zeros
                return;
            }
            destination = destination[n..];
            offset += n;
        }
    }

    /// <inheritdoc />
    public void Read(long pbn, IReadOnlyList<Memory<byte>> destinations)
    {
        var total = 0L;
        foreach (var d in destinations)
            total += d.Length;
        DeviceChecks.CheckRange(pbn, (int)Math.Min(int.MaxValue, total), BlockCount);
        var offset = pbn * VdoConstants.BlockSize;
        var n = RandomAccess.Read(_handle, destinations, offset);
        if (n < total)
        {
            // Past the end of a sparse or short file: the rest reads as zeros.
            var skip = n;
            foreach (var d in destinations)
            {
                if (skip >= d.Length)
                {
                    skip -= d.Length;
                    continue;
                }
                d.Span[(int)skip..].Clear();
                skip = 0;
            }
        }
    }

    /// <inheritdoc />
    public void Write(long pbn, ReadOnlySpan<byte> source)
    {
        DeviceChecks.CheckRange(pbn, source.Length, BlockCount);
        RandomAccess.Write(_handle, source, pbn * VdoConstants.BlockSize);
        NoteWritten(source.Length);
    }

    /// <inheritdoc />
    public void Write(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources)
    {
        var total = 0;
        foreach (var s in sources)
            total += s.Length;
        DeviceChecks.CheckRange(pbn, total, BlockCount);
        if (TryWriteDirect(sources, total, pbn * VdoConstants.BlockSize))
            return;
        RandomAccess.Write(_handle, sources, pbn * VdoConstants.BlockSize);
        NoteWritten(total);
    }

    /// <inheritdoc />
    public void Flush()
    {
        // fdatasync: the data and the metadata needed to read it back, which is all a pool needs.
        if (FdataSync(_handle) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"fdatasync of '{Path}' failed: errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)}).");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        StopWriteBehind();
        _direct?.Dispose();
        FreeDirectSlots();
        _handle.Dispose();
        _owner?.Dispose();
    }

    private const int SharingViolation = unchecked((int)0x80070020); // Windows' sharing violation
    private const int LockEx = 2;
    private const int LockNb = 4;
    // Also the HResult of .NET's IOException when its own flock(LOCK_SH) fails on Unix (the raw errno).
    private const int EWouldBlock = 11;

    /// <summary>
    /// flock(LOCK_EX | LOCK_NB) on our descriptor: .NET itself only takes a shared lock for
    /// FileShare.Read, which two writers can both hold. Released when the handle closes (or the
    /// process dies, so a crashed mount leaves no stale lock).
    /// </summary>
    private static void LockExclusive(SafeFileHandle handle, string path)
    {
        if (OperatingSystem.IsWindows())
            return;
        if (Flock(handle, LockEx | LockNb) == 0)
            return;
        var errno = Marshal.GetLastPInvokeError();
        if (errno == EWouldBlock)
            throw InUse(path, null);
        throw new IOException($"cannot lock pool '{path}': errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)}).");
    }

    private static IOException InUse(string path, Exception? inner) =>
        new($"pool '{path}' is in use by another process (mounted? unmount it first with 'fusermount3 -u MOUNTPOINT').", inner);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(SafeFileHandle fd, int operation);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FdataSync(SafeFileHandle fd);
}
