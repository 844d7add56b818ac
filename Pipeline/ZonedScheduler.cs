using DataflowVdo.Blocks;
using DataflowVdo.Blocks.Stages;
using DataflowVdo.Config;
using DataflowVdo.Pipeline.Graph;
using DataflowVdo.Storage;
using Zone = DataflowVdo.Blocks.Stages.ZoneKind;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The zoned step graph shared by the two concurrent schemes: zones (logical, hash, physical,
/// packer, journal) that alone touch their structures, stateless worker steps (hash, verify,
/// compress, data write), and requests that carry their next step (<see cref="Stage"/>). How a
/// request gets from one step to the next is the scheme: MessagePassing (this file) posts it to
/// the zone's single-consumer Dataflow block (a counted handoff); StructureLocking
/// (<c>ZonedScheduler.Locking.cs</c>) runs the step itself under the zone's lock. Callers block
/// until acknowledged; many may be in flight at once, bounded by the request pool (I8).
/// </summary>
internal sealed partial class ZonedScheduler : IDisposable
{
    private readonly VolumeZones _z;
    private readonly ConcurrentDataVioPool _pool;
    private readonly bool _dedupe;
    private readonly bool _compression;
    private readonly bool _sync;
    private readonly Action<Exception> _onFailure;

    // One slot per zone: each Zone kind has _kindCount[kind] slots from _kindBase[kind] on
    // (several for the logical, hash and physical zones), in Zone order. The driver gives each
    // slot its executor (a Dataflow block, a lock), only for the kinds the configuration uses (no
    // verify block without dedupe, no compress block without compression, no hash block when
    // naming on submit).
    private readonly int _slotCount;
    private readonly int[] _kindBase = new int[KindCount];
    private readonly int[] _kindCount = new int[KindCount];
    private readonly Zone[] _slotKind;
    private readonly int[] _slotIndex;
    private readonly int _logicalZoneCount;
    private readonly int _physicalZoneCount;
    private readonly bool _hashOnSubmit;

    private readonly int _stepsPerRequeue;

    private long _handoffs;
    private long _skipped;

    // Transitions by edge (slot to slot; admission and acknowledgement after the slots).
    private readonly TransitionCounts _edges;
    private readonly int _admitNode;
    private readonly int _ackNode;

    public ZonedScheduler(VolumeZones zones, Action<Exception> onFailure)
    {
        _z = zones;
        _onFailure = onFailure;
        var p = zones.Options.Pipeline;
        _dedupe = p.Dedupe;
        _compression = p.Compression;
        _sync = zones.Options.Volume.WritePolicy == WritePolicy.Sync;
        _pool = new ConcurrentDataVioPool(p.RequestPoolSize);
        _stepsPerRequeue = p.StepsPerRequeue;
        _hashOnSubmit = p.Scheme == SchemeKind.MessagePassing && p.HashOnSubmit;
        _logicalZoneCount = zones.BlockMap.ZoneCount;
        _physicalZoneCount = zones.Depot.ZoneCount;
        for (var k = 0; k < KindCount; k++)
        {
            _kindCount[k] = (Zone)k switch
            {
                Zone.Logical => _logicalZoneCount,
                Zone.HashZone => zones.HashZones.Length,
                Zone.Physical => _physicalZoneCount,
                _ => 1,
            };
            _kindBase[k] = _slotCount;
            _slotCount += _kindCount[k];
        }
        _slotKind = new Zone[_slotCount];
        _slotIndex = new int[_slotCount];
        for (var k = 0; k < KindCount; k++)
        {
            for (var i = 0; i < _kindCount[k]; i++)
            {
                _slotKind[_kindBase[k] + i] = (Zone)k;
                _slotIndex[_kindBase[k] + i] = i;
            }
        }
        _admitNode = _slotCount;
        _ackNode = _slotCount + 1;
        _edges = new TransitionCounts([.. Enumerable.Range(0, _slotCount).Select(SlotName), "admit", "ack"]);
        _logical = [.. Enumerable.Range(0, _logicalZoneCount).Select(_ => new LogicalZoneState())];
        _usedDelta = new long[_logicalZoneCount];
        _usedAtCheckpoint = new long[_logicalZoneCount];
        _usedBase = zones.LogicalBlocksUsed;
        _rootImage = zones.BlockMap.CopyRoot();
        _messages = new long[_slotCount];
        _busyTicks = new long[_slotCount];
        _driver = CreateDriver(p);
        _physicalInbox = new PhysicalInbox(this, _physicalZoneCount);
        zones.JournalZone.Sink = _physicalInbox;
    }

    /// <summary>Real handoffs (posts to another block) so far.</summary>
    public long Handoffs => Interlocked.Read(ref _handoffs);

    /// <summary>After an online logical growth (every zone quiet): the checkpoint's root image covers the new pages.</summary>
    public void LogicalGrown() => _rootImage = _z.BlockMap.CopyRoot();

    /// <summary>Zone-to-zone transitions so far, by the node ids of <c>PipelineGraph</c>.</summary>
    public IReadOnlyList<PipelineTransition> Transitions() => _edges.Snapshot();

    /// <summary>Steps that ran on the block already running the request (no handoff).</summary>
    public long SkippedHandoffs => Interlocked.Read(ref _skipped);

    /// <inheritdoc/>
    public int Pending => _pool.InUse;

    private const int KindCount = 10;

    private Zone KindOf(int slot) => _slotKind[slot];

    /// <summary>
    /// The stateless steps, which run on the request's thread outside any zone lock (Inline: on
    /// the caller, outside the volume's lock) or in a worker pool's block; data reads among them
    /// (the read holds its LBN's logical lock, so the block it names cannot be freed and reused meanwhile).
    /// </summary>
    private static bool IsPool(Zone zone) => zone is Zone.Hash or Zone.Verify or Zone.Compress or Zone.DataWrite or Zone.Read;

    /// <summary>The slot (block, lock) of zone <paramref name="index"/> of a kind.</summary>
    private int SlotOf(Zone zone, int index = 0) => _kindBase[(int)zone] + index;

    /// <summary>
    /// The slot that runs <paramref name="vio"/>'s current stage: a logical zone by the LBN's
    /// block-map page, a hash zone by the block name, a physical zone by the slab of the block
    /// the stage touches (the request's allocation zone when it allocates).
    /// </summary>
    private int SlotFor(DataVio vio)
    {
        var stage = (Stage)vio.Stage;
        var zone = ZoneOf(stage);
        var k = (int)zone;
        if (_kindCount[k] == 1)
            return _kindBase[k];
        return _kindBase[k] + zone switch
        {
            Zone.Logical => _z.BlockMap.ZoneOfLbn(vio.Lbn),
            Zone.HashZone => _z.HashZoneIndexOfHigh(vio.NameHigh),
            _ => PhysicalZoneOf(vio, stage),
        };
    }

    private string SlotName(int slot)
    {
        var i = _slotIndex[slot];
        return _slotKind[slot] switch
        {
            Zone.Hash => "hash",
            Zone.Logical => $"logical{i}",
            Zone.HashZone => $"hashzone{i}",
            Zone.Physical => $"physical{i}",
            Zone.Verify => "verify",
            Zone.Compress => "compress",
            Zone.Packer => "packer",
            Zone.DataWrite => "datawrite",
            Zone.Read => "read",
            _ => "journal",
        };
    }

    /// <summary>True when some stage of this configuration runs in <paramref name="kind"/>.</summary>
    private bool Uses(Zone kind) => kind switch
    {
        Zone.Hash => !_hashOnSubmit,
        Zone.HashZone or Zone.Verify => _dedupe,
        Zone.Compress => _compression,
        _ => true, // the packer also runs space retries and the packer tokens' fallbacks
    };

    private readonly long[] _messages;
    private readonly long[] _busyTicks;

    /// <summary>Zone-lock acquisitions so far (0 for message passing).</summary>
    public long LockAcquisitions => _driver.LockCounts.Acquisitions;

    /// <summary>Zone-lock acquisitions that had to wait (0 for message passing).</summary>
    public long LockContentions => _driver.LockCounts.Contended;

    /// <summary>Per-block (or per-lock) figures so far, named as <c>PipelineGraph</c> names its nodes.</summary>
    public IReadOnlyList<PipelineBlockFigures> Figures() => _driver.Figures();

    /// <summary>
    /// Runs the request's current stage in <paramref name="slot"/>; returns the next (Parked:
    /// someone else holds it now; Done: completed) and the slot that runs it.
    /// </summary>
    private Stage Advance(DataVio vio, int slot, out int to)
    {
        var from = (Stage)vio.Stage;
        Stage next;
        try
        {
            if (_failure is { } failure && vio.Operation != VioOperation.Read && vio.Error is null)
                throw new ReadOnlyVolumeException($"the volume failed while this request was in flight ({failure.Message})");
            next = Step(vio, from);
        }
        catch (Exception e)
        {
            next = Fail(vio, e, from, slot);
        }
        to = Route(vio, from, slot, next);
        if (next == Stage.Done)
            Complete(vio);
        return next;
    }

    /// <summary>
    /// <see cref="Advance"/> for a request at <see cref="Stage.WriteData"/> whose data its batch
    /// already wrote, or at <see cref="Stage.Verify"/> whose candidate its batch already read
    /// (<paramref name="error"/>: that I/O failed): it goes on as after the step.
    /// </summary>
    private Stage AdvanceWritten(DataVio vio, int slot, Exception? error)
    {
        var from = (Stage)vio.Stage;
        Stage next;
        try
        {
            if (_failure is { } failure && vio.Error is null)
                throw new ReadOnlyVolumeException($"the volume failed while this request was in flight ({failure.Message})");
            next = error is not null ? Fail(vio, error, from, slot)
                : from == Stage.Verify ? Verified(vio, VerifyStep.Matches(vio, vio.Data))
                : DataWritten(vio);
        }
        catch (Exception e)
        {
            next = Fail(vio, e, from, slot);
        }
        Route(vio, from, slot, next);
        if (next == Stage.Done)
            Complete(vio);
        return next;
    }

    /// <summary>
    /// The transition stage <paramref name="from"/>, run in <paramref name="slot"/>, decided for
    /// <paramref name="vio"/>: checked against the stage table, counted by edge, and the request's
    /// stage set (unless parked: a lock's waiter list, the packer or the journal holds it, and it
    /// resumes in its stage). Returns the slot of the next stage (-1 parked; acknowledgement when done).
    /// </summary>
    private int Route(DataVio vio, Stage from, int slot, Stage next)
    {
        StageTable.Check(from, next);
        if (next == Stage.Parked)
            return -1;
        vio.Stage = (int)next;
        var to = next == Stage.Done ? _ackNode : SlotFor(vio);
        if (_driver.SharedCounts(slot))
            _edges.CountShared(slot, to);
        else
            _edges.Count(slot, to);
        return to;
    }

    /// <summary>A request enters at <paramref name="stage"/> (admission: many callers at once).</summary>
    private void Admit(DataVio vio, Stage stage)
    {
        vio.Stage = (int)stage;
        _edges.CountShared(_admitNode, SlotFor(vio));
    }

    /// <summary>Routes another request than the one running (a waiter, a co-fragment) and sends it on, or completes it.</summary>
    private void Dispatch(DataVio vio, Stage from, int slot, Stage next)
    {
        var to = Route(vio, from, slot, next);
        if (next == Stage.Done)
            Complete(vio);
        else if (next != Stage.Parked)
            SendTo(vio, to);
    }

    /// <summary>Hands a request on to the slot of its current stage (a counted handoff).</summary>
    private void Send(DataVio vio) => SendTo(vio, SlotFor(vio));

    /// <summary>Hands a request on to <paramref name="slot"/>, the slot of its current stage (a counted handoff).</summary>
    private void SendTo(DataVio vio, int slot)
    {
        if (_driver.TryCarry(vio))
            return;
        Interlocked.Increment(ref _handoffs);
        _driver.Handoff(vio, slot);
    }


    public void Dispose()
    {
        _driver.Dispose();
    }
}
