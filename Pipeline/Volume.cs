using System.Diagnostics.CodeAnalysis;
using System.Runtime.ExceptionServices;
using DataflowVdo.Blocks;
using DataflowVdo.Config;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// An open pool: a thin logical space of 4 KiB blocks with zero elimination, deduplication and
/// compression. Thread-safe: calls are serialized by the configured scheduler. Dispose closes it
/// cleanly (everything durable, dedupe index saved); a process that dies without closing leaves
/// it to be recovered at the next open.
/// </summary>
public sealed partial class Volume : IDisposable
{
    private readonly Lock _sync = new();
    private readonly VolumeZones _z;
    private readonly InlineScheduler _scheduler;
    private readonly OutsideWriteSignal _outsideWrites = new();
    private readonly ZonedScheduler? _mp;
    private readonly bool _ownsDevice;
    private bool _closed;

    [ThreadStatic]
    private static List<DataVio>? t_started; // inline: the requests whose data this thread writes outside the lock

    /// <summary>Blocks stored whole in one request from which the request writes its data around the device's cache (128 KiB).</summary>
    internal const int WriteAroundMinBlocks = 32;

    [ThreadStatic]
    private static List<ReadOnlyMemory<byte>>? t_sources; // inline: one vectored write's buffers

    [ThreadStatic]
    private static List<DataVio>? t_verifying; // inline: the started requests whose candidates this thread verifies

    [ThreadStatic]
    private static List<Memory<byte>>? t_reads; // inline: one vectored verify read's buffers

    private Volume(VolumeZones zones, bool ownsDevice)
    {
        _z = zones;
        _ownsDevice = ownsDevice;
        _scheduler = new InlineScheduler(zones);
        if (zones.Options.Pipeline.Scheme != SchemeKind.Inline)
            _mp = new ZonedScheduler(zones, e => Failed(e));
        VolumeMetrics.Register(this);
    }

    /// <summary>Thin logical size in blocks.</summary>
    public long LogicalBlocks => _z.Geometry.LogicalBlocks;

    /// <summary>The layout of the pool.</summary>
    public Geometry Geometry => _z.Geometry;

    /// <summary>Options in effect.</summary>
    public VdoOptions Options => _z.Options;

    /// <summary>
    /// Why the pool is in read-only mode (it refuses writes), or null: a metadata write, flush or
    /// damage failed it, in this open or an earlier one (the superblock keeps it until
    /// <see cref="Repair"/>).
    /// </summary>
    public string? ReadOnlyReason => _z.ReadOnlyReason;

    private bool _failedHere; // this open failed: its in-memory state is not trusted for a repair

    /// <summary>
    /// Requests handed from one Dataflow block to another so far (message-passing scheme; 0 for
    /// the inline scheme, which runs every step on the caller's thread).
    /// </summary>
    public long PipelineHandoffs => _mp?.Handoffs ?? 0;

    /// <summary>Zone-lock acquisitions so far, and how many had to wait (structure-locking scheme; 0 otherwise).</summary>
    public (long Acquisitions, long Contended) PipelineLocks => _mp is null ? (0, 0) : (_mp.LockAcquisitions, _mp.LockContentions);

    /// <summary>Per-block figures of the message-passing graph (messages, queue depth, busy time); empty for the inline scheme.</summary>
    public IReadOnlyList<PipelineBlockFigures> PipelineFigures() => _mp?.Figures() ?? [];

    /// <summary>
    /// Zone-to-zone transitions so far, by edge, named as <see cref="Graph.PipelineGraph"/> names
    /// its nodes for this volume's options (every scheme; each is an edge of that graph).
    /// </summary>
    public IReadOnlyList<Graph.PipelineTransition> PipelineTransitions() => _mp?.Transitions() ?? _scheduler.Transitions();

    /// <summary>
    /// The statistics as they are this instant, without stopping the pipeline (metrics
    /// collection): figures of requests still in flight may lag by a few requests.
    /// </summary>
    internal VolumeStatistics SnapshotStatistics()
    {
        lock (_sync)
        {
            CheckOpen();
            return BuildStatistics();
        }
    }

    /// <summary>True when recovery ran at open (the last shutdown was not clean).</summary>
    public bool Recovered { get; private set; }

    /// <summary>Writes one 4 KiB block.</summary>
    public void Write(long lbn, ReadOnlySpan<byte> block)
    {
        CheckBlock(lbn, block.Length);
        WriteCore(lbn, block, 1);
    }

    /// <summary>
    /// Writes consecutive 4 KiB blocks from <paramref name="lbn"/> (a multiple of 4096 bytes)
    /// under one acquisition of the volume: a 1 MiB request costs one lock handoff, not 256.
    /// Blocks are written in order; on an error the blocks before it are written, the rest not.
    /// </summary>
    public void WriteBlocks(long lbn, ReadOnlySpan<byte> blocks) => WriteCore(lbn, blocks, CheckBlocks(lbn, blocks.Length));

    /// <summary>Reads one 4 KiB block (zeros where nothing was written).</summary>
    public void Read(long lbn, Span<byte> block)
    {
        CheckBlock(lbn, block.Length);
        ReadCore(lbn, block, 1);
    }

    /// <summary>Reads consecutive 4 KiB blocks from <paramref name="lbn"/> under one acquisition of the volume.</summary>
    public void ReadBlocks(long lbn, Span<byte> blocks) => ReadCore(lbn, blocks, CheckBlocks(lbn, blocks.Length));

    private unsafe void WriteCore(long lbn, ReadOnlySpan<byte> blocks, int count)
    {
        var start = VolumeMetrics.StartTiming();
        if (_mp is not null)
        {
            CheckWritable();
            try
            {
                _mp.Write(lbn, blocks, count);
            }
            catch (Exception e) when (e is not IOException && Failed(e)) // the scheduler failed the pool itself if it must
            {
                throw;
            }
            VolumeMetrics.RecordDuration(start, "write");
            return;
        }
        // Inline: the caller names (and compresses) its blocks before it takes the lock, a chunk
        // at a time, so that callers on other cores do that in parallel. Under the lock it runs
        // the steps on shared structures up to the data writes, which it then does outside the
        // lock from its own buffer (adjacent blocks in one vectored write), and it takes the
        // lock again to journal them and update the block map.
        var prepared = PreparedBlocks.ForThisThread();
        var started = t_started ??= new List<DataVio>(PreparedBlocks.MaxBlocks);
        var compression = _z.Options.Pipeline.Compression;
        var compressAll = compression && _z.Options.Pipeline.CompressOnSubmit;
        fixed (byte* pinned = blocks)
        {
            var memory = PinnedRequestMemory.Over(pinned, blocks.Length);
            try
            {
                var request = new RequestBlocks(lbn, memory.Memory, blocks);
                for (var done = 0; done < count;)
                {
                    var n = Math.Min(count - done, PreparedBlocks.MaxBlocks);
                    prepared.Prepare(_z.Hash, compressAll, compression, _z.Probe, blocks.Slice(done * VdoConstants.BlockSize, n * VdoConstants.BlockSize), n);
                    for (var i = 0; i < n;)
                    {
                        var before = i;
                        Exception? failure = null;
                        long generation;
                        lock (_sync)
                        {
                            CheckWritable();
                            generation = _outsideWrites.Generation;
                            try
                            {
                                _scheduler.PrefetchIndex(prepared, i, DedupeIndex.PrefetchAhead);
                                while (i < n && _scheduler.TryStart(in request, done + i, prepared, i, started))
                                    i++;
                            }
                            catch (Exception e)
                            {
                                // The blocks started before it are still written, unless the error made
                                // the volume read-only: then they are dropped (CompleteStarted).
                                failure = e;
                                Failed(e);
                            }
                        }
                        if (started.Count > 0)
                        {
                            try
                            {
                                WriteStarted(started, in request);
                            }
                            catch when (failure is not null)
                            {
                                // The first error is the one to report.
                            }
                        }
                        if (failure is not null)
                            ExceptionDispatchInfo.Throw(failure);
                        if (i == before)
                            _outsideWrites.WaitAfter(generation); // another caller writes this LBN (or holds the pool) outside the lock
                    }
                    done += n;
                }
            }
            finally
            {
                memory.Release();
            }
        }
        VolumeMetrics.RecordDuration(start, "write");
    }

    private void ReadCore(long lbn, Span<byte> blocks, int count)
    {
        var start = VolumeMetrics.StartTiming();
        if (_mp is not null)
        {
            CheckOpen();
            try
            {
                _mp.Read(lbn, blocks, count);
            }
            catch (CorruptMetadataException e)
            {
                EnterReadOnly(e.Message);
                throw;
            }
            VolumeMetrics.RecordDuration(start, "read");
            return;
        }
        lock (_sync)
        {
            CheckOpen();
            try
            {
                for (var i = 0; i < count; i++)
                    _scheduler.Read(lbn + i, blocks.Slice(i * VdoConstants.BlockSize, VdoConstants.BlockSize));
            }
            catch (CorruptMetadataException e)
            {
                EnterReadOnly(e.Message);
                throw;
            }
        }
        VolumeMetrics.RecordDuration(start, "read");
    }

    /// <summary>
    /// Writes the data of requests <see cref="InlineScheduler.TryStart"/> handed out, outside the
    /// lock, from the caller's buffer: runs of consecutive blocks go out as one vectored write;
    /// and verifies the pinned candidates of those that may share a block (I4), runs of
    /// consecutive candidates read in one vectored read. Then, under the lock, they are journaled
    /// and mapped; their data was written first (I1).
    /// </summary>
    private void WriteStarted(List<DataVio> started, in RequestBlocks request)
    {
        var failure = WriteStartedData(started, in request);
        try
        {
            lock (_sync)
                failure = CompleteStarted(started, failure, in request);
        }
        finally
        {
            _outsideWrites.Completed(); // callers waiting for these LBNs or requests may go on
        }
        if (failure is not null)
            ExceptionDispatchInfo.Throw(failure);
    }

    /// <summary>Writes the started requests' data and verifies their candidates; returns the error instead of throwing it.</summary>
    private Exception? WriteStartedData(List<DataVio> started, in RequestBlocks request)
    {
        try
        {
            var sources = t_sources ??= new List<ReadOnlyMemory<byte>>(PreparedBlocks.MaxBlocks);
            var verifying = t_verifying ??= new List<DataVio>(PreparedBlocks.MaxBlocks);
            for (var i = 0; i < started.Count; i++)
            {
                if (started[i].VerifyingOutside)
                    verifying.Add(started[i]);
            }
            if (verifying.Count > 0)
            {
                _z.Verify.ReadCandidates(verifying, t_reads ??= new List<Memory<byte>>(PreparedBlocks.MaxBlocks));
                foreach (var vio in verifying)
                    vio.Verified = VerifyStep.Matches(vio, request.DataOf(vio.Lbn));
            }
            // A large request writes its own data, around the device's cache: on a used pool its
            // blocks land in short runs, and through the cache's single writer thread 1 MiB writes
            // fell to 0.56x (perf/README.md); small ones go through the cache.
            var around = started.Count - verifying.Count >= WriteAroundMinBlocks;
            for (var i = 0; i < started.Count;)
            {
                if (started[i].VerifyingOutside)
                {
                    i++;
                    continue;
                }
                var first = started[i].Allocation;
                sources.Clear();
                do
                    sources.Add(request.MemoryOf(started[i].Lbn));
                while (++i < started.Count && !started[i].VerifyingOutside && started[i].Allocation == first + sources.Count);
                if (around)
                    _z.Device.WriteAround(first, sources);
                else if (sources.Count == 1)
                    _z.Device.Write(first, request.DataOf(started[i - 1].Lbn));
                else
                    _z.Device.Write(first, sources);
            }
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
        finally
        {
            t_sources?.Clear();
            t_verifying?.Clear();
        }
    }

    /// <summary>
    /// Journals and maps the started requests, or drops them when their data write failed or the
    /// volume went read-only meanwhile (another caller's failure: nothing more may be written).
    /// Returns the error the caller must throw. Caller holds the lock.
    /// </summary>
    private Exception? CompleteStarted(List<DataVio> started, Exception? failure, in RequestBlocks request)
    {
        if (failure is null && ReadOnlyReason is not null)
            failure = new ReadOnlyVolumeException(ReadOnlyReason);
        try
        {
            _scheduler.Complete(started, written: failure is null, in request);
        }
        catch (Exception e) when (Failed(e))
        {
            throw;
        }
        finally
        {
            started.Clear();
        }
        if (failure is IOException)
            LogMessages.DataWriteFailed(_z.Hooks.Logger, request.Lbn, failure.Message); // that writer fails, the pool stays writable
        else if (failure is not null)
            Failed(failure);
        return failure;
    }

    private int CheckBlocks(long lbn, int length)
    {
        if (length == 0 || length % VdoConstants.BlockSize != 0)
            ThrowLength(length);
        var count = length / VdoConstants.BlockSize;
        if (lbn < 0 || lbn + count > LogicalBlocks)
            ThrowLbn(lbn < 0 ? lbn : lbn + count - 1);
        return count;
    }

    /// <summary>Unmaps <paramref name="count"/> blocks from <paramref name="lbn"/>: their space comes back, reads return zeros.</summary>
    public void Discard(long lbn, long count = 1)
    {
        if (count < 0 || lbn < 0 || lbn + count > LogicalBlocks)
            throw new ArgumentOutOfRangeException(nameof(lbn), $"discard of {count} blocks at LBN {lbn} is outside the logical space (0..{LogicalBlocks - 1})");
        if (_mp is not null)
        {
            CheckWritable();
            try
            {
                for (var i = 0L; i < count; i += 4096)
                    _mp.Discard(lbn + i, (int)Math.Min(4096, count - i));
            }
            catch (Exception e) when (Failed(e))
            {
                throw;
            }
            return;
        }
        for (var i = 0L; i < count;)
        {
            var before = i;
            long generation;
            lock (_sync)
            {
                CheckWritable();
                generation = _outsideWrites.Generation;
                try
                {
                    while (i < count && _scheduler.TryDiscard(lbn + i))
                        i++;
                }
                catch (Exception e) when (Failed(e))
                {
                    throw;
                }
            }
            if (i == before)
                _outsideWrites.WaitAfter(generation); // a caller is writing this LBN outside the lock: wait for it
        }
    }

    /// <summary>Makes every write acknowledged before this call durable (I5).</summary>
    public void Flush()
    {
        lock (_sync)
        {
            CheckOpen();
            if (ReadOnlyReason is not null)
            {
                // Writes acknowledged before the failure may not be durable, and nothing more may be
                // written: the flush can only succeed if nothing is outstanding (dm-vdo fails it too).
                if (_z.Journal.DurableEntries < _z.Journal.AppendedEntries || _scheduler.Pending > 0 || _scheduler.LostAcknowledgedWrites || _mp?.Pending > 0 || _mp?.LostAcknowledgedWrites == true)
                    throw new ReadOnlyVolumeException(ReadOnlyReason + "; writes acknowledged since the last flush may be lost");
                return;
            }
            FlushGuarded();
        }
    }

    /// <summary>A snapshot of the vdostats figures.</summary>
    public VolumeStatistics GetStatistics()
    {
        lock (_sync)
        {
            CheckOpen();
            VolumeStatistics? result = null;
            Quiet(() => result = BuildStatistics());
            return result!;
        }
    }

    private VolumeStatistics BuildStatistics()
    {
        {
            _z.RefreshCounters();
            var depot = _z.Depot;
            var logical = _z.LogicalBlocksUsed;
            var data = depot.DataBlocksUsed;
            return new VolumeStatistics
            {
                PhysicalBlocks = _z.Geometry.PhysicalBlocks,
                LogicalBlocks = _z.Geometry.LogicalBlocks,
                DataBlocksUsed = data,
                OverheadBlocksUsed = _z.Geometry.FixedOverheadBlocks + depot.BlockMapPages,
                LogicalBlocksUsed = logical,
                FreeBlocks = depot.FreeBlocks,
                SavingPercent = logical <= 0 ? 0 : (int)Math.Max(0, (logical - data) * 100 / logical),
                BlockMapPages = depot.BlockMapPages,
                SlabCount = _z.Geometry.SlabCount,
                SlabBlocks = _z.Geometry.SlabBlocks,
                IndexEntries = _z.IndexEntries,
                IndexCapacity = _z.IndexCapacity,
                PackerFragmentsWaiting = _z.Packer.Waiting,
                JournalBlocksInUse = _z.Journal.BlocksInUse,
                JournalBlocks = _z.Geometry.JournalBlocks,
                ReadOnly = ReadOnlyReason is not null,
                ReadOnlyReason = ReadOnlyReason,
                Counters = _z.Counters.Clone(),
                SlabJournalBlocksWritten = depot.SlabJournalBlocksWritten,
                RefCountBlocksWritten = depot.RefCountBlocksWritten,
                BlockMapPagesWritten = _z.BlockMap.PagesWritten,
                CompressionSkipped = _z.Probe.Skipped,
                MetadataBlocksWritten = _z.MetadataWriter.BlocksWritten,
            };
        }
    }

    /// <summary>
    /// Proves I7: every reference count equals the number of mappings to its block, no block is
    /// owned twice, every compressed mapping names a real fragment. Returns the inconsistencies
    /// (empty when consistent). Flushes first so nothing is in flight.
    /// </summary>
    public IReadOnlyList<string> Check()
    {
        lock (_sync)
        {
            CheckOpen();
            if (ReadOnlyReason is null)
                FlushGuarded();
            IReadOnlyList<string>? result = null;
            Quiet(() => result = VolumeChecker.Check(_z));
            return result!;
        }
    }

    /// <summary>Closes cleanly: flushes, checkpoints, saves the dedupe index, marks the pool clean.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_closed)
                return;
            while (_scheduler.WritingOutside > 0)
            {
                // Callers are writing data (or verifying duplicates) outside the lock: let them
                // journal it first; each signals when it has.
                var generation = _outsideWrites.Generation;
                _sync.Exit();
                _outsideWrites.WaitAfter(generation);
                _sync.Enter();
                if (_closed)
                    return;
            }
            _closed = true;
            VolumeMetrics.Unregister(this);
            try
            {
                if (ReadOnlyReason is null && !OpenedForInspection)
                {
                    FlushScheduler();
                    Quiet(() => _z.Checkpoint(clean: true));
                }
            }
            finally
            {
                _mp?.Dispose();
                _z.Journal.WaitForWrites(); // a failed volume may still have a journal batch going out
                if (_ownsDevice)
                    _z.Device.Dispose();
            }
        }
    }

    /// <summary>Flushes through the configured scheduler.</summary>
    private void FlushScheduler()
    {
        if (_mp is not null)
            _mp.Flush();
        else
            _scheduler.Flush();
    }

    /// <summary>Runs <paramref name="action"/> with no request in flight and every zone idle (caller holds the lock).</summary>
    private void Quiet(Action action)
    {
        if (_mp is not null)
            _mp.Quiesce(action);
        else
            action();
    }

    private void FlushGuarded()
    {
        try
        {
            FlushScheduler();
        }
        catch (Exception e) when (Failed(e))
        {
            throw;
        }
    }

    /// <summary>
    /// Exception filter: damage or an I/O error part-way through a request puts the volume in
    /// read-only mode (as VDO does) rather than risk more damage. Never handles the exception.
    /// </summary>
    private bool Failed(Exception e)
    {
        if (e is not (OutOfSpaceException or ArgumentException or ReadOnlyVolumeException))
            EnterReadOnly(e is CorruptMetadataException ? e.Message : $"{e.GetType().Name}: {e.Message}");
        return false;
    }

    /// <summary>Enters read-only mode (the first reason wins), logs it and records it in the superblock (best effort: the device may be failing).</summary>
    private void EnterReadOnly(string reason)
    {
        if (!_z.TryEnterReadOnly(reason))
            return;
        _failedHere = true;
        LogMessages.EnteredReadOnly(_z.Hooks.Logger, reason);
        try
        {
            _z.PersistReadOnly();
        }
        catch (Exception e)
        {
            LogMessages.ReadOnlyNotPersisted(_z.Hooks.Logger, e.Message);
        }
    }

    private void CheckOpen()
    {
        if (_closed)
            ThrowClosed();
    }

    private void CheckWritable()
    {
        CheckOpen();
        if (ReadOnlyReason is not null)
            throw new ReadOnlyVolumeException(ReadOnlyReason);
        if (OpenedForInspection)
            throw new ReadOnlyVolumeException("opened for inspection (dvdo stats/check): nothing is written to the pool");
    }

    private void CheckBlock(long lbn, int length)
    {
        if (length != VdoConstants.BlockSize)
            ThrowLength(length);
        if ((ulong)lbn >= (ulong)LogicalBlocks)
            ThrowLbn(lbn);
    }

    [DoesNotReturn]
    private static void ThrowClosed() => throw new ObjectDisposedException(nameof(Volume), "the volume is closed");

    [DoesNotReturn]
    private static void ThrowLength(int length) =>
        throw new ArgumentException($"a block is {VdoConstants.BlockSize} bytes, got {length}");

    [DoesNotReturn]
    private void ThrowLbn(long lbn) =>
        throw new ArgumentOutOfRangeException(nameof(lbn), $"LBN {lbn} is outside the logical space (0..{LogicalBlocks - 1})");

    private static VolumeZones Assemble(IBlockDevice device, Geometry geometry, VdoOptions options, VolumeHooks hooks,
        SlabDepot depot, BlockMap blockMap, RecoveryJournal journal, PersistentCounters counters, MetadataWriter writer, SuperBlock? super)
    {
        var capacity = (int)Math.Min(int.MaxValue / 2, (long)options.Index.MemoryMb * 1024 * 1024 / DedupeIndex.BytesPerRecord);
        var zoneCount = options.Pipeline.Scheme == SchemeKind.Inline ? 1 : options.Pipeline.HashZones;
        var hashZones = Enumerable.Range(0, zoneCount).Select(_ => new HashZone(new DedupeIndex(capacity / zoneCount, options.Index.Chapters))).ToArray();
        var journalZone = new JournalZone(journal, depot);
        blockMap.EnsureDurable = journalZone.EnsureDurable;
        var zones = new VolumeZones
        {
            Device = device,
            Geometry = geometry,
            Options = options,
            Depot = depot,
            BlockMap = blockMap,
            Journal = journal,
            JournalZone = journalZone,
            HashZones = hashZones,
            Packer = new Packer(options.Pipeline.PackerBins),
            Hash = new HashStep(hooks.Namer),
            Compress = new CompressStep(),
            Probe = new CompressionProbe(options.Pipeline.CompressionProbeAfter),
            Verify = new VerifyStep(device),
            Counters = counters,
            MetadataWriter = writer,
            Hooks = hooks,
            LastSuperBlock = super,
        };
        zones.SetReadOnlyReason(super?.ReadOnlyReason); // a pool left in read-only mode stays in it
        return zones;
    }
}
