using System.Diagnostics.CodeAnalysis;
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
    private readonly ZonedScheduler _driver;
    private readonly bool _ownsDevice;
    private bool _closed;
    private bool _countsUnloaded; // OpenForReading: the depot holds no reference count

    /// <summary>Blocks stored whole in one request from which the request writes its data around the device's cache (128 KiB).</summary>
    internal const int WriteAroundMinBlocks = ZonedScheduler.WriteAroundMinBlocks;

    private Volume(VolumeZones zones, bool ownsDevice, bool countsLoaded = true)
    {
        _z = zones;
        _ownsDevice = ownsDevice;
        _countsUnloaded = !countsLoaded;
        _driver = new ZonedScheduler(zones, e => Failed(e));
        if (countsLoaded)
            VolumeMetrics.Register(this); // a volume opened for reading has no figures to report
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
    /// Requests handed on so far: posted to another Dataflow block (message passing) or queued to
    /// the thread pool to resume (a request that waited on a lock, the packer or the journal).
    /// </summary>
    public long PipelineHandoffs => _driver.Handoffs;

    /// <summary>Zone-lock acquisitions so far, and how many had to wait (StructureLocking and Inline; 0 for message passing).</summary>
    public (long Acquisitions, long Contended) PipelineLocks => (_driver.LockAcquisitions, _driver.LockContentions);

    /// <summary>Per-node figures of the graph (messages or lock acquisitions, queue depth, busy time).</summary>
    public IReadOnlyList<PipelineBlockFigures> PipelineFigures() => _driver.Figures();

    /// <summary>
    /// Zone-to-zone transitions so far, by edge, named as <see cref="Graph.PipelineGraph"/> names
    /// its nodes for this volume's options (every scheme; each is an edge of that graph).
    /// </summary>
    public IReadOnlyList<Graph.PipelineTransition> PipelineTransitions() => _driver.Transitions();

    /// <summary>What the graph holds right now, read without any lock (a test that timed out prints it: queue depths, parked requests, flush generations).</summary>
    internal string DescribeState() => _driver.DescribeState();

    /// <summary>Requests taken from the pool and not yet released (tests wait for a request to park).</summary>
    internal int RequestsInFlight => _driver.Pending;

    /// <summary>
    /// The statistics as they are this instant, without stopping the pipeline (metrics
    /// collection): figures of requests still in flight may lag by a few requests.
    /// </summary>
    internal VolumeStatistics SnapshotStatistics()
    {
        lock (_sync)
        {
            CheckOpen();
            CheckCountsLoaded();
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

    private void WriteCore(long lbn, ReadOnlySpan<byte> blocks, int count)
    {
        var start = VolumeMetrics.StartTiming();
        CheckWritable();
        try
        {
            _driver.Write(lbn, blocks, count);
        }
        catch (Exception e) when (e is not IOException && Failed(e)) // the driver failed the pool itself if it must
        {
            throw;
        }
        VolumeMetrics.RecordDuration(start, "write");
    }

    private void ReadCore(long lbn, Span<byte> blocks, int count)
    {
        var start = VolumeMetrics.StartTiming();
        CheckOpen();
        try
        {
            _driver.Read(lbn, blocks, count);
        }
        catch (CorruptMetadataException e)
        {
            EnterReadOnly(e.Message);
            throw;
        }
        VolumeMetrics.RecordDuration(start, "read");
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
        CheckWritable();
        try
        {
            for (var i = 0L; i < count; i += 4096)
                _driver.Discard(lbn + i, (int)Math.Min(4096, count - i));
        }
        catch (Exception e) when (Failed(e))
        {
            throw;
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
                if (_z.Journal.DurableEntries < _z.Journal.AppendedEntries || _driver.Pending > 0 || _driver.LostAcknowledgedWrites)
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
            CheckCountsLoaded();
            VolumeStatistics? result = null;
            _driver.Snapshot(() => result = BuildStatistics());
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
            CheckCountsLoaded();
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
            _closed = true;
            if (!_countsUnloaded)
                VolumeMetrics.Unregister(this); // only a volume with figures was registered
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
                _driver.Dispose();
                _z.Journal.WaitForWrites(); // a failed volume may still have a journal batch going out
                if (_ownsDevice)
                    _z.Device.Dispose();
            }
        }
    }

    /// <summary>Flushes through the configured driver.</summary>
    private void FlushScheduler() => _driver.Flush();

    /// <summary>Runs <paramref name="action"/> with no request in flight and every zone idle (caller holds the lock).</summary>
    private void Quiet(Action action) => _driver.Quiesce(action);

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
