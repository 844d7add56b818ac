using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DataflowVdo.Storage;

/// <summary>
/// How the write cache's batches reach the file: each run of consecutive blocks is one buffered
/// <c>pwritev</c>, from the cache's writer thread alone, so the FUSE threads never wait on the
/// file's inode lock and a stream of random 4 KiB writes reaches the page cache as ~1 MiB runs.
/// Every <see cref="WritebackChunk"/> the writer asks the kernel to start writing back
/// (<c>sync_file_range(SYNC_FILE_RANGE_WRITE)</c>, which waits for nothing), so that a flush does
/// not find tens of megabytes dirty. Buffered, not <c>O_DIRECT</c>: measured here, direct runs
/// sent the dedupe verify reads of recently written blocks to the disk, under the volume's lock
/// (`mixed` on a pool file: 0.6x, p99 26 ms against 70 µs), and were slower through FUSE too.
/// Only the last <see cref="PageCacheWindowBytes"/> of them stay in the page cache: each range
/// written before that is dropped (<c>POSIX_FADV_DONTNEED</c>; its writeback was started a window
/// ago), so new writes land in pages just freed instead of pages the machine has to find anew
/// (perf/README.md, 5 Dec 2026: 1.2x at 4 KiB qd 32 through FUSE on this VM).
/// </summary>
public sealed partial class FileBlockDevice : ICacheRunWriter
{
    /// <summary>Bytes written by the cache after which the kernel is asked to start writing them back.</summary>
    public const long WritebackChunk = 8L * 1024 * 1024;

    private long _notStarted;
    private long _openLow; // the range of consecutive blocks the latest runs extend (empty when equal)
    private long _openHigh;
    // Block ranges written and not dropped yet, oldest first. It grows until it holds a window's
    // ranges, then stays: about one per 4 KiB of the window at most (16 B each, 4 MiB for the default
    // 1 GiB: bounded by configuration, I8), far fewer when runs are long. Capped at 4096 ranges,
    // the oldest dropped early, `dvdo bench --workload mixed --device file` (short runs) fell to
    // 0.85x with p99 7-12 ms: recent dedupe candidates were read back from the disk.
    private readonly Queue<(long Low, long High)> _written = new();
    private long _writtenBlocks; // their total
    private long _pageCacheWindowBytes;
    private long _droppedBytes;

    /// <summary>
    /// Bytes of the most recent buffered writes left in the kernel's page cache
    /// (<c>Volume:PageCacheWindowMb</c>); older ones are dropped once their writeback has had a
    /// window's time to finish. 0 leaves every page to the kernel.
    /// </summary>
    public long PageCacheWindowBytes
    {
        get => Volatile.Read(ref _pageCacheWindowBytes);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref _pageCacheWindowBytes, value);
        }
    }

    /// <summary>Bytes of block ranges dropped from the page cache (<see cref="PageCacheWindowBytes"/>); a range counts whole, whatever the kernel could drop of it.</summary>
    public long PageCacheBytesDropped => Interlocked.Read(ref _droppedBytes);
    private long _writebacksStarted;

    /// <summary>Times writeback was started early.</summary>
    public long WritebacksStarted => Interlocked.Read(ref _writebacksStarted);

    /// <inheritdoc />
    unsafe void ICacheRunWriter.WriteRuns(ReadOnlySpan<CacheRun> runs, Iovec* iovecs)
    {
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            var fd = (int)_handle.DangerousGetHandle();
            foreach (var run in runs)
            {
                WriteRun(fd, run, iovecs);
                _notStarted += (long)run.Count * VdoConstants.BlockSize;
                NoteWritten(run);
            }
        }
        finally
        {
            if (added)
                _handle.DangerousRelease();
        }
        if (_notStarted >= WritebackChunk && OperatingSystem.IsLinux())
        {
            _notStarted = 0;
            _ = SyncFileRange(_handle, 0, 0, SyncFileRangeWrite); // a hint: errors surface at the next fdatasync
            Interlocked.Increment(ref _writebacksStarted);
            DropOldRanges();
        }
    }

    /// <summary>Extends the open range with <paramref name="run"/> when it follows it, or queues the open range and starts another.</summary>
    private void NoteWritten(CacheRun run)
    {
        if (PageCacheWindowBytes == 0 || !OperatingSystem.IsLinux()) // elsewhere nothing would drop them
            return;
        if (run.Pbn != _openHigh || _openHigh == _openLow)
        {
            QueueOpenRange();
            _openLow = run.Pbn;
        }
        _openHigh = run.Pbn + run.Count;
    }

    private void QueueOpenRange()
    {
        if (_openHigh == _openLow)
            return;
        _written.Enqueue((_openLow, _openHigh));
        _writtenBlocks += _openHigh - _openLow;
        _openLow = _openHigh = 0;
    }

    /// <summary>
    /// Called once the writeback of everything written so far was started: drops the oldest
    /// ranges from the page cache until the window holds the rest (at least the newest range).
    /// Pages still dirty or under writeback are skipped by the kernel (they stay until reclaimed):
    /// the advice loses nothing, and a read of a dropped block goes to the disk.
    /// </summary>
    private void DropOldRanges()
    {
        var window = PageCacheWindowBytes / VdoConstants.BlockSize;
        QueueOpenRange();
        while (_written.Count > 1 && _writtenBlocks > window)
        {
            var (low, high) = _written.Dequeue();
            _writtenBlocks -= high - low;
            _ = Fadvise(_handle, low * VdoConstants.BlockSize, (high - low) * VdoConstants.BlockSize, FadvDontNeed); // advice: nothing to report
            Interlocked.Add(ref _droppedBytes, (high - low) * VdoConstants.BlockSize);
        }
    }

    private long _aroundNotStarted;

    /// <summary>
    /// Counts buffered bytes written around the cache; every <see cref="WritebackChunk"/> the
    /// caller that crosses it starts their writeback (outside the volume's lock: it only queues I/O).
    /// </summary>
    private void NoteBufferedAround(long bytes)
    {
        if (Interlocked.Add(ref _aroundNotStarted, bytes) < WritebackChunk || !OperatingSystem.IsLinux())
            return;
        Interlocked.Exchange(ref _aroundNotStarted, 0);
        _ = SyncFileRange(_handle, 0, 0, SyncFileRangeWrite); // a hint: errors surface at the next fdatasync
        Interlocked.Increment(ref _writebacksStarted);
    }

    /// <summary>One run with <c>pwritev</c>, finishing short writes.</summary>
    private unsafe void WriteRun(int fd, CacheRun run, Iovec* iovecs)
    {
        var offset = run.Pbn * VdoConstants.BlockSize;
        var total = (long)run.Count * VdoConstants.BlockSize;
        for (var done = 0L; done < total;)
        {
            // Blocks are whole iovecs of 4 KiB: restart in the block the last write stopped in.
            var first = (int)(done / VdoConstants.BlockSize);
            var within = (int)(done % VdoConstants.BlockSize);
            var iov = iovecs + run.FirstIovec + first;
            long n;
            if (within == 0)
                n = Pwritev(fd, iov, run.Count - first, offset + done);
            else
            {
                var partial = new Iovec { Base = iov->Base + within, Length = (nuint)(VdoConstants.BlockSize - within) };
                n = Pwritev(fd, &partial, 1, offset + done);
            }
            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == EIntr)
                    continue;
                throw WriteFailed(run, errno);
            }
            if (n == 0)
                throw WriteFailed(run, ENoSpc);
            done += n;
        }
    }

    private IOException WriteFailed(CacheRun run, int errno) =>
        new($"writing blocks {run.Pbn}..{run.Pbn + run.Count - 1} of pool '{Path}' failed: errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)}).");

    private const int EIntr = 4;
    private const int ENoSpc = 28;
    private const uint SyncFileRangeWrite = 2;
    private const int FadvDontNeed = 4;

    [LibraryImport("libc", EntryPoint = "pwritev", SetLastError = true)]
    private static unsafe partial nint Pwritev(int fd, Iovec* iov, int count, long offset);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int Fadvise(SafeFileHandle fd, long offset, long length, int advice);

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(SafeFileHandle fd, long offset, long length, uint flags);
}
