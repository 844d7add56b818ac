using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using DataflowVdo.Blocks;
using DataflowVdo.Config;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// VDO's scheme on TPL Dataflow: every zone (logical, hash, physical, packer, journal) is a
/// single-consumer <see cref="ActionBlock{T}"/> that alone touches its structures; the stateless
/// steps (hash, verify, compress, data write) run in parallel worker blocks. A request carries
/// its next step (<see cref="Stage"/>); a block runs steps while they belong to it and posts the
/// request to the block of the next one (a counted handoff). Callers block until acknowledged;
/// many callers may be in flight at once, bounded by the request pool (I8).
/// </summary>
internal sealed partial class ZonedScheduler : IDisposable
{
    private readonly VolumeZones _z;
    private readonly ConcurrentDataVioPool _pool;
    private readonly bool _dedupe;
    private readonly bool _compression;
    private readonly bool _sync;
    private readonly Action<Exception> _onFailure;

    private readonly ActionBlock<DataVio> _hash;
    private readonly ActionBlock<DataVio> _logical;
    private readonly ActionBlock<DataVio> _hashZone;
    private readonly ActionBlock<DataVio> _physical;
    private readonly ActionBlock<DataVio> _verify;
    private readonly ActionBlock<DataVio> _compress;
    private readonly ActionBlock<DataVio> _packer;
    private readonly ActionBlock<DataVio> _dataWrite;
    private readonly ActionBlock<DataVio> _journal;
    private readonly ActionBlock<DataVio>[] _blocks;

    private long _handoffs;
    private long _skipped;

    public ZonedScheduler(VolumeZones zones, Action<Exception> onFailure)
    {
        _z = zones;
        _onFailure = onFailure;
        var p = zones.Options.Pipeline;
        _dedupe = p.Dedupe;
        _compression = p.Compression;
        _sync = zones.Options.Volume.WritePolicy == WritePolicy.Sync;
        _pool = new ConcurrentDataVioPool(p.RequestPoolSize);
        _locking = p.Scheme == SchemeKind.StructureLocking;
        _stepsPerRequeue = p.StepsPerRequeue;
        _hash = Block(p.Steps.Hash, Zone.Hash);
        _logical = Block(p.Steps.Logical, Zone.Logical);
        _hashZone = Block(p.Steps.HashZone, Zone.HashZone);
        _physical = Block(p.Steps.Physical, Zone.Physical);
        _verify = Block(p.Steps.Verify, Zone.Verify);
        _compress = Block(p.Steps.Compress, Zone.Compress);
        _packer = Block(p.Steps.Packer, Zone.Packer);
        _dataWrite = Block(p.Steps.DataWrite, Zone.DataWrite);
        _journal = Block(p.Steps.Journal, Zone.Journal);
        _blocks = [_hash, _logical, _hashZone, _physical, _verify, _compress, _packer, _dataWrite, _journal];
        _physicalInbox = new PhysicalInbox(this);
        zones.JournalZone.Sink = _physicalInbox;
        for (var i = 0; i < _tokens.Length; i++)
            _tokens[i] = new DataVio();
        for (var i = 0; i < _tokenWork.Length; i++)
            _tokenWork[i] = new TokenWork(this, (TokenKind)i);
    }

    /// <summary>Real handoffs (posts to another block) so far.</summary>
    public long Handoffs => Interlocked.Read(ref _handoffs);

    /// <summary>Steps that ran on the block already running the request (no handoff).</summary>
    public long SkippedHandoffs => Interlocked.Read(ref _skipped);

    /// <inheritdoc/>
    public int Pending => _pool.InUse;

    private ActionBlock<DataVio> Block(StepOptions step, Zone zone)
    {
        var options = new ExecutionDataflowBlockOptions
        {
            MaxDegreeOfParallelism = step.Parallelism == 0 ? Environment.ProcessorCount : step.Parallelism,
            BoundedCapacity = step.BoundedCapacity == 0 ? DataflowBlockOptions.Unbounded : step.BoundedCapacity,
            MaxMessagesPerTask = step.BatchSize == 0 ? DataflowBlockOptions.Unbounded : step.BatchSize,
        };
        _parallelism[(int)zone] = options.MaxDegreeOfParallelism;
        _parallel[(int)zone] = options.MaxDegreeOfParallelism > 1;
        return new ActionBlock<DataVio>(vio => Run(vio, zone), options);
    }

    /// <summary>Runs the request's steps while they belong to <paramref name="zone"/>, then hands it on.</summary>
    private void Run(DataVio vio, Zone zone)
    {
        var start = Stopwatch.GetTimestamp();
        RunMessage(vio, zone);
        var busy = Stopwatch.GetTimestamp() - start;
        var i = (int)zone;
        if (_parallel[i])
        {
            Interlocked.Increment(ref _messages[i]);
            Interlocked.Add(ref _busyTicks[i], busy);
        }
        else
        {
            // A zone's figures have one writer (its consumer); readers only need them roughly current.
            Volatile.Write(ref _messages[i], _messages[i] + 1);
            Volatile.Write(ref _busyTicks[i], _busyTicks[i] + busy);
        }
    }

    private readonly long[] _messages = new long[ZoneCount];
    private readonly long[] _busyTicks = new long[ZoneCount];
    private readonly bool[] _parallel = new bool[ZoneCount];
    private readonly int[] _parallelism = new int[ZoneCount];
    private const int ZoneCount = 9;

    /// <summary>Per-block figures so far, named as <c>PipelineGraph</c> names its nodes.</summary>
    public IReadOnlyList<PipelineBlockFigures> Figures()
    {
        if (_locking)
            return LockFigures();
        var names = new[] { "hash", "logical0", "hashzone0", "physical0", "verify", "compress", "packer", "datawrite", "journal" };
        var list = new List<PipelineBlockFigures>(ZoneCount);
        for (var i = 0; i < ZoneCount; i++)
        {
            list.Add(new PipelineBlockFigures(names[i], Volatile.Read(ref _messages[i]), _blocks[i].InputCount,
                Volatile.Read(ref _busyTicks[i]) / (double)Stopwatch.Frequency, _parallelism[i]));
        }
        return list;
    }

    private void RunMessage(DataVio vio, Zone zone)
    {
        if (vio.Operation == TokenOperation)
            RunToken(vio, zone);
        else
            RunSteps(vio, zone);
        if (zone == Zone.Journal)
        {
            if (_sync)
                AfterJournalMessage();
            // Only now: the request just appended was sent on first, so the checkpoint's tokens
            // reach the logical zone after every request whose entry precedes the checkpoint.
            StartCheckpointIfNeeded(force: false);
        }
        if (_sync && zone == Zone.Packer && _packer.InputCount == 0)
            CloseBinsWhenIdle(); // Sync writes wait for durability: pack what arrived together, hold nothing
    }

    private void RunSteps(DataVio vio, Zone zone)
    {
        while (true)
        {
            var next = Advance(vio);
            if (next is Stage.Parked or Stage.Done)
                break;
            var target = ZoneOf(next);
            if (target == zone && BlockOf(target).InputCount == 0)
            {
                Interlocked.Increment(ref _skipped); // VDO also runs the next step in place when it can
                continue;
            }
            Send(target, vio);
            break;
        }
    }

    /// <summary>Runs the request's current stage; returns the next (Parked: someone else holds it now; Done: completed).</summary>
    private Stage Advance(DataVio vio)
    {
        Stage next;
        try
        {
            if (_failure is { } failure && vio.Operation != VioOperation.Read && vio.Error is null)
                throw new ReadOnlyVolumeException($"the volume failed while this request was in flight ({failure.Message})");
            next = Step(vio, (Stage)vio.Stage);
        }
        catch (Exception e)
        {
            next = Fail(vio, e);
        }
        if (next == Stage.Parked)
            return next; // a lock's waiter list, the packer or the journal holds it
        vio.Stage = (int)next;
        if (next == Stage.Done)
            Complete(vio);
        return next;
    }

    private void Send(Zone target, DataVio vio)
    {
        Interlocked.Increment(ref _handoffs);
        if (_locking)
            Requeue(vio);
        else
            Post(BlockOf(target), vio);
    }

    private static void Post(ActionBlock<DataVio> block, DataVio vio)
    {
        // Only worker pools may be bounded (zones are validated unbounded): wait for room there.
        var spin = new SpinWait();
        while (!block.Post(vio))
            spin.SpinOnce();
    }

    private ActionBlock<DataVio> BlockOf(Zone zone) => _blocks[(int)zone];

    private enum Zone
    {
        Hash,
        Logical,
        HashZone,
        Physical,
        Verify,
        Compress,
        Packer,
        DataWrite,
        Journal,
    }

    public void Dispose()
    {
        foreach (var b in _blocks)
            b.Complete();
        foreach (var b in _blocks)
            b.Completion.Wait(TimeSpan.FromSeconds(10));
    }
}
