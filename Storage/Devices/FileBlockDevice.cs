using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DataflowVdo.Storage;

/// <summary>
/// A device in a plain file (or a block device node). Small writes go into a volatile
/// <see cref="WriteCache"/> and reach the file as coalesced runs (FileBlockDevice.Runs.cs);
/// runs of <see cref="DirectMinBytes"/> and more go straight to the disk (FileBlockDevice.Direct.cs);
/// reads are positional reads through <see cref="RandomAccess"/>, with the cached blocks laid
/// over them; a flush writes out the cache and calls <c>fdatasync</c>.
/// New backing files are created with mode 0600: they hold the users' data. A writable device
/// holds an exclusive <c>flock</c> on the file for its lifetime, so a second writer (another
/// command, a second mount) is refused instead of corrupting the pool.
/// </summary>
public sealed partial class FileBlockDevice : IBlockDevice
{
    private readonly SafeFileHandle _handle;
    private FileStream? _owner;
    private WriteCache? _cache; // null when opened read-only

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
        created.OpenForWriting();
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
            device.OpenForWriting();
        return device;
    }

    /// <summary>Blocks written and not yet known to be in the file (they are in the write cache).</summary>
    public int CachedBlocks => _cache?.Cached ?? 0;

    /// <summary>Batches the write cache has written to the file so far.</summary>
    public long CacheBatches => _cache?.Batches ?? 0;

    /// <summary>Blocks the write cache has written to the file so far.</summary>
    public long CacheBlocksWritten => _cache?.BlocksWritten ?? 0;

    /// <summary>Runs of consecutive blocks (one file write each) the write cache has written so far.</summary>
    public long CacheRunsWritten => _cache?.RunsWritten ?? 0;

    private void OpenForWriting()
    {
        _cache = new WriteCache(this);
        OpenDirect();
    }

    /// <inheritdoc />
    public void Read(long pbn, Span<byte> destination)
    {
        DeviceChecks.CheckRange(pbn, destination.Length, BlockCount);
        var cache = _cache;
        if (cache is null || cache.Cached == 0)
        {
            ReadFile(pbn, destination);
            return;
        }
        var blocks = destination.Length / VdoConstants.BlockSize;
        var rented = blocks > 256 ? new bool[blocks] : null;
        var hit = rented ?? stackalloc bool[blocks];
        // The cache first, then the file for the rest: a block not cached now is in the file.
        var hits = cache.Overlay(pbn, destination, hit);
        if (hits == blocks)
            return;
        if (hits == 0)
        {
            ReadFile(pbn, destination);
            return;
        }
        for (var i = 0; i < blocks;)
        {
            if (hit[i])
            {
                i++;
                continue;
            }
            var first = i;
            while (i < blocks && !hit[i])
                i++;
            ReadFile(pbn + first, destination.Slice(first * VdoConstants.BlockSize, (i - first) * VdoConstants.BlockSize));
        }
    }

    private void ReadFile(long pbn, Span<byte> destination)
    {
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
        if (_cache is { } cache && cache.AnyCached(pbn, (int)(total / VdoConstants.BlockSize)))
        {
            // Some of it is cached: read the range whole through the cache, then scatter it.
            var whole = new byte[total];
            Read(pbn, whole);
            var at = 0;
            foreach (var d in destinations)
            {
                whole.AsSpan(at, d.Length).CopyTo(d.Span);
                at += d.Length;
            }
            return;
        }
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
        Cache.Write(pbn, source);
    }

    /// <inheritdoc />
    public void Write(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources)
    {
        if (WroteDirect(pbn, sources, out var cache, out var total))
            return;
        var at = 0L;
        for (var part = 0; part < sources.Count; part++)
        {
            var s = sources[part];
            if (s.Length % VdoConstants.BlockSize != 0)
            {
                // A part that is not whole blocks: gather the rest (rare; the engine writes whole blocks).
                var rest = new byte[total - at];
                var used = 0;
                for (var i = part; i < sources.Count; i++)
                {
                    sources[i].Span.CopyTo(rest.AsSpan(used));
                    used += sources[i].Length;
                }
                cache.Write(pbn + at / VdoConstants.BlockSize, rest);
                return;
            }
            cache.Write(pbn + at / VdoConstants.BlockSize, s.Span);
            at += s.Length;
        }
    }

    /// <summary>
    /// Writes a large request's run from the caller's thread, around the write cache (whose
    /// older copies of these blocks are dropped or waited for first): runs of
    /// <see cref="DirectMinBytes"/> and more go direct, shorter ones (a used pool's scattered free
    /// blocks) are one buffered <c>pwritev</c> each, so the callers of large requests share the
    /// page-cache copying instead of queuing it on the cache's single writer thread.
    /// </summary>
    public void WriteAround(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources)
    {
        if (WroteDirect(pbn, sources, out var cache, out var total))
            return;
        cache.Evict(pbn, total / VdoConstants.BlockSize);
        RandomAccess.Write(_handle, sources, pbn * VdoConstants.BlockSize);
        Interlocked.Increment(ref _aroundWrites);
        NoteBufferedAround(total);
    }

    /// <summary>
    /// Checks a vectored write's range and writes it direct when it is long enough; otherwise
    /// returns false with the cache (a read-only device throws) and the byte count for the caller's path.
    /// </summary>
    private bool WroteDirect(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources, out WriteCache cache, out int total)
    {
        total = 0;
        foreach (var s in sources)
            total += s.Length;
        DeviceChecks.CheckRange(pbn, total, BlockCount);
        cache = Cache;
        return TryWriteDirect(sources, total, pbn * VdoConstants.BlockSize);
    }

    /// <summary>Buffered writes made around the write cache so far (<see cref="WriteAround"/>).</summary>
    public long AroundWriteCount => Interlocked.Read(ref _aroundWrites);

    private long _aroundWrites;

    private WriteCache Cache => _cache ?? throw new IOException($"pool '{Path}' was opened read-only.");

    /// <inheritdoc />
    public void Flush()
    {
        _cache?.Flush();
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
        // Writes out what is cached (a clean close has flushed already; this covers the rest).
        _cache?.Dispose();
        _direct?.Dispose();
        if (_direct is not null)
            FreeDirectSlots(); // slots exist only with a direct descriptor (a read-only device's first ConcurrentBag use cost its close ~3 ms)
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
