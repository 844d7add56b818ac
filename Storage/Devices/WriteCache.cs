using System.Runtime.InteropServices;

namespace DataflowVdo.Storage;

/// <summary>
/// The volatile write cache in front of a <see cref="FileBlockDevice"/>, like a disk's: a write
/// is copied into a 4 KiB-aligned slot and returns; a writer thread of the cache's own takes
/// every slot waiting at once (a batch), sorts it by block, and hands it to the device as runs of
/// consecutive blocks, one vectored write each. A block
/// written again while it waits is overwritten in place of its old slot; one written again while
/// its batch is on its way waits for the next batch, so the device always sees a block's writes
/// in order. Reads see the newest cached copy. <see cref="Flush"/> waits until every write
/// published before it is on the device (running the batch itself if the writer is idle), and
/// the device then makes them durable with <c>fdatasync</c>. This is the
/// <see cref="IBlockDevice"/> contract ("writes may sit in a volatile cache until Flush") that
/// the engine's ordering (I1, I5) is proved against with <c>CrashSimulatingDevice</c>: a process
/// that dies loses its unflushed writes as a power cut would.
/// Why: a buffered 4 KiB <c>pwrite</c> into a sparse pool file cost the FUSE thread ~7 µs and
/// serialized the writers on the file's inode lock; skipping it doubled 4 KiB IOPS at queue
/// depth 32 (perf/README.md). The slots are 4 KiB-aligned so that a device may write them with
/// <c>O_DIRECT</c>; the file device does not (FileBlockDevice.Runs.cs says why). Bounded (I8): the slots are allocated once; a writer that finds
/// none free waits for the batch on its way.
/// </summary>
internal sealed unsafe class WriteCache : IDisposable
{
    /// <summary>Slots unless told otherwise: 16 MiB.</summary>
    public const int DefaultSlots = 4096;

    /// <summary>Longest run handed to the device as one write (1 MiB).</summary>
    public const int MaxRunBlocks = 256;

    /// <summary>Blocks waiting after which the writer starts a batch at once (1 MiB).</summary>
    public const int BatchBlocks = 256;

    /// <summary>
    /// How long a smaller batch may wait for more blocks. Nobody waits for it meanwhile (a flush
    /// writes it itself), and a batch costs one wake-up of the writer and one write per run where
    /// single blocks would cost one each.
    /// </summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(5);

    private const int Block = VdoConstants.BlockSize;
    private const byte Free = 0, Pending = 1, InFlight = 2, Dead = 3;

    private readonly object _sync = new();
    private readonly ICacheRunWriter _device;
    private readonly int _slotCount;
    private readonly byte* _memory;
    private readonly long[] _slotPbn;
    private readonly byte[] _state;
    private readonly bool[] _behind; // a Pending slot that superseded a copy which may still be on its way
    private readonly int[] _free;
    private readonly Dictionary<long, int> _map; // block -> its newest slot (Pending or InFlight)
    private List<int> _pending;
    private List<int> _taking;
    private readonly long[] _workPbn;
    private readonly int[] _workSlot;
    private readonly CacheRun[] _runs;
    private readonly Iovec* _iovecs;
    private readonly Thread _writer;
    private int _freeCount;
    private int _cached; // _map.Count, readable without the lock
    private long _published; // writes published so far (sequence)
    private long _written; // every write published up to this sequence is on the device
    private bool _batchRunning;
    private bool _writerWaiting;
    private bool _hurry; // a writer found no free slot: write what waits now
    private long _oldestPendingAt; // Environment.TickCount64 when the first of the waiting blocks came
    private bool _closing;
    private bool _disposed;
    private Exception? _failure;
    private long _batches;
    private long _blocksWritten;
    private long _runsWritten;

    public WriteCache(ICacheRunWriter device, int slots = DefaultSlots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 16);
        _device = device;
        _slotCount = slots;
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)slots * Block, Block);
        _iovecs = (Iovec*)NativeMemory.Alloc((nuint)slots, (nuint)sizeof(Iovec));
        _slotPbn = new long[slots];
        _state = new byte[slots];
        _behind = new bool[slots];
        _free = new int[slots];
        for (var i = 0; i < slots; i++)
            _free[i] = slots - 1 - i;
        _freeCount = slots;
        _map = new Dictionary<long, int>(slots);
        _pending = new List<int>(slots);
        _taking = new List<int>(slots);
        _workPbn = new long[slots];
        _workSlot = new int[slots];
        _runs = new CacheRun[slots];
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "dvdo-datawrite" };
        _writer.Start();
    }

    /// <summary>Batches written so far (by the writer thread or a flushing caller).</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Blocks written to the device so far.</summary>
    public long BlocksWritten => Interlocked.Read(ref _blocksWritten);

    /// <summary>Runs of consecutive blocks written so far (one device write each).</summary>
    public long RunsWritten => Interlocked.Read(ref _runsWritten);

    /// <summary>Blocks cached and not yet known to be on the device.</summary>
    public int Cached => Volatile.Read(ref _cached);

    /// <summary>Caches <c>source.Length / 4096</c> consecutive blocks from <paramref name="pbn"/> (range already checked).</summary>
    public void Write(long pbn, ReadOnlySpan<byte> source)
    {
        var blocks = source.Length / Block;
        var most = Math.Min(_slotCount / 4, MaxRunBlocks);
        Span<int> slots = stackalloc int[most];
        for (var done = 0; done < blocks;)
        {
            var k = Math.Min(blocks - done, most);
            var got = slots[..k];
            Acquire(got);
            for (var i = 0; i < k; i++)
                source.Slice((done + i) * Block, Block).CopyTo(new Span<byte>(_memory + (long)got[i] * Block, Block));
            Publish(pbn + done, got);
            done += k;
        }
    }

    /// <summary>
    /// Copies the cached blocks of the range into <paramref name="destination"/> and marks them in
    /// <paramref name="hit"/>; returns how many. The others are on the device (or were never
    /// written): read them from there after this call, not before.
    /// </summary>
    public int Overlay(long pbn, Span<byte> destination, Span<bool> hit)
    {
        hit.Clear();
        if (Volatile.Read(ref _cached) == 0)
            return 0;
        var blocks = destination.Length / Block;
        var hits = 0;
        lock (_sync)
        {
            for (var i = 0; i < blocks; i++)
            {
                if (!_map.TryGetValue(pbn + i, out var slot))
                    continue;
                new ReadOnlySpan<byte>(_memory + (long)slot * Block, Block).CopyTo(destination.Slice(i * Block, Block));
                hit[i] = true;
                hits++;
            }
        }
        return hits;
    }

    /// <summary>
    /// Forgets the cached copies of a range that is about to be written around the cache (a
    /// direct write): waiting copies are dropped, and a copy on its way is waited for, so that no
    /// older copy lands after the new write. The caller owns the range meanwhile (nobody else
    /// writes it until its own write is done).
    /// </summary>
    public void Evict(long pbn, int blocks)
    {
        if (Volatile.Read(ref _cached) == 0)
            return;
        lock (_sync)
        {
            while (true)
            {
                ThrowIfFailed();
                var wait = false;
                for (var i = 0; i < blocks; i++)
                {
                    if (!_map.TryGetValue(pbn + i, out var slot))
                        continue;
                    if (_state[slot] == Pending)
                    {
                        _state[slot] = Dead; // freed when its batch is taken, never written
                        _map.Remove(pbn + i);
                        // An older copy it superseded may be in the batch on its way.
                        wait |= _behind[slot] && _batchRunning;
                    }
                    else
                    {
                        wait = true; // on its way: the batch removes it once written
                    }
                }
                _cached = _map.Count;
                if (!wait)
                    return;
                while (_batchRunning)
                {
                    ThrowIfFailed();
                    Monitor.Wait(_sync); // a batch pulses when it ends
                }
            }
        }
    }

    /// <summary>Whether any block of the range is cached now.</summary>
    public bool AnyCached(long pbn, int blocks)
    {
        if (Volatile.Read(ref _cached) == 0)
            return false;
        lock (_sync)
        {
            for (var i = 0; i < blocks; i++)
            {
                if (_map.ContainsKey(pbn + i))
                    return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Returns once every write published before the call is on the device; throws the device's
    /// error if one failed. The caller then makes them durable (fdatasync).
    /// </summary>
    public void Flush()
    {
        long target;
        lock (_sync)
        {
            ThrowIfFailed();
            target = _published;
        }
        while (true)
        {
            long sequence;
            lock (_sync)
            {
                while (true)
                {
                    ThrowIfFailed();
                    if (_written >= target)
                        return;
                    if (TryTakeBatch(out sequence))
                        break;
                    Monitor.Wait(_sync);
                }
            }
            // The writer thread is idle or between batches: this caller writes the batch itself
            // instead of waking it and waiting.
            WriteBatch(sequence);
        }
    }

    /// <summary>Writes out what is cached (unless the device failed), stops the writer and frees the slots.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed)
                return;
            _disposed = true;
            _closing = true;
            Monitor.PulseAll(_sync);
        }
        _writer.Join();
        NativeMemory.AlignedFree(_memory);
        NativeMemory.Free(_iovecs);
    }

    /// <summary>The first write error, if any (the cache keeps the blocks it could not write, so reads still see them).</summary>
    public Exception? Failure
    {
        get
        {
            lock (_sync)
                return _failure;
        }
    }

    private void Acquire(Span<int> slots)
    {
        lock (_sync)
        {
            while (true)
            {
                ThrowIfFailed();
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_freeCount >= slots.Length)
                    break;
                _hurry = true;
                if (_writerWaiting)
                    Monitor.PulseAll(_sync);
                Monitor.Wait(_sync);
            }
            for (var i = 0; i < slots.Length; i++)
                slots[i] = _free[--_freeCount];
        }
    }

    private void Publish(long pbn, ReadOnlySpan<int> slots)
    {
        lock (_sync)
        {
            if (_pending.Count == 0)
                _oldestPendingAt = Environment.TickCount64;
            for (var i = 0; i < slots.Length; i++)
            {
                var slot = slots[i];
                var block = pbn + i;
                var behind = false;
                if (_map.TryGetValue(block, out var old))
                {
                    // Waiting: it will never be written. On its way: it lands first, then this one.
                    behind = _state[old] == InFlight || _behind[old];
                    if (_state[old] == Pending)
                        _state[old] = Dead;
                }
                _behind[slot] = behind;
                _map[block] = slot;
                _slotPbn[slot] = block;
                _state[slot] = Pending;
                _pending.Add(slot);
            }
            _cached = _map.Count;
            _published++;
            // A full batch goes at once; the first waiting block wakes an idle writer into its
            // timed wait, so that a lone block leaves within MaxDelay even if nobody flushes.
            if (_writerWaiting && (_pending.Count >= BatchBlocks || _pending.Count == slots.Length))
                Monitor.PulseAll(_sync);
        }
    }

    /// <summary>Takes every waiting slot as the next batch, unless one is on its way. Caller holds the lock.</summary>
    private bool TryTakeBatch(out long sequence)
    {
        sequence = _published;
        if (_batchRunning || _failure is not null || _pending.Count == 0)
            return false;
        (_pending, _taking) = (_taking, _pending);
        var n = 0;
        foreach (var slot in _taking)
        {
            if (_state[slot] == Dead)
            {
                FreeSlot(slot);
                continue;
            }
            _state[slot] = InFlight;
            _workSlot[n] = slot;
            _workPbn[n] = _slotPbn[slot];
            n++;
        }
        _taking.Clear();
        _workCount = n;
        _batchRunning = true;
        _hurry = false;
        return true;
    }

    private int _workCount;

    /// <summary>Writes the batch taken by <see cref="TryTakeBatch"/> (outside the lock), then frees its slots.</summary>
    private void WriteBatch(long sequence)
    {
        var n = _workCount;
        Exception? failure = null;
        var runCount = 0;
        try
        {
            Array.Sort(_workPbn, _workSlot, 0, n);
            for (var i = 0; i < n;)
            {
                var first = i;
                do
                {
                    _iovecs[i].Base = _memory + (long)_workSlot[i] * Block;
                    _iovecs[i].Length = Block;
                    i++;
                }
                while (i < n && i - first < MaxRunBlocks && _workPbn[i] == _workPbn[i - 1] + 1);
                _runs[runCount++] = new CacheRun(_workPbn[first], first, i - first);
            }
            if (runCount > 0)
                _device.WriteRuns(new ReadOnlySpan<CacheRun>(_runs, 0, runCount), _iovecs);
        }
        catch (Exception e)
        {
            failure = e;
        }
        lock (_sync)
        {
            _batchRunning = false;
            if (failure is not null)
            {
                // The blocks stay cached (InFlight, never freed): reads still return them, and
                // every later write or flush reports the error.
                _failure = failure;
                Monitor.PulseAll(_sync);
                return;
            }
            for (var i = 0; i < n; i++)
            {
                var slot = _workSlot[i];
                if (_map.TryGetValue(_workPbn[i], out var newest) && newest == slot)
                    _map.Remove(_workPbn[i]);
                FreeSlot(slot);
            }
            _cached = _map.Count;
            _written = sequence;
            _batches++;
            _blocksWritten += n;
            _runsWritten += runCount;
            Monitor.PulseAll(_sync);
        }
    }

    private void FreeSlot(int slot)
    {
        _state[slot] = Free;
        _free[_freeCount++] = slot;
    }

    private void WriterLoop()
    {
        while (true)
        {
            long sequence;
            lock (_sync)
            {
                while (!(Due() && TryTakeBatch(out sequence)))
                {
                    // Closing: leave once nothing is waiting (or nothing can be written any more).
                    if (_closing && !_batchRunning && (_pending.Count == 0 || _failure is not null))
                        return;
                    _writerWaiting = true;
                    if (_pending.Count == 0)
                        Monitor.Wait(_sync);
                    else
                        Monitor.Wait(_sync, MaxDelay);
                    _writerWaiting = false;
                }
            }
            WriteBatch(sequence);
        }
    }

    /// <summary>Whether the blocks waiting should go now: enough of them, one waited long enough, or someone needs slots. Caller holds the lock.</summary>
    private bool Due() =>
        _closing || _hurry || _pending.Count >= BatchBlocks
        || (_pending.Count > 0 && Environment.TickCount64 - _oldestPendingAt >= (long)MaxDelay.TotalMilliseconds);

    private void ThrowIfFailed()
    {
        if (_failure is not null)
            throw new IOException($"an earlier write to the device failed, so nothing more is written: {_failure.Message}", _failure);
    }
}
