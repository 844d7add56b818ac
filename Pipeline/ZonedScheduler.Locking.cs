using System.Diagnostics;
using DataflowVdo.Blocks;
using DataflowVdo.Blocks.Stages;
using DataflowVdo.Config;
using Zone = DataflowVdo.Blocks.Stages.ZoneKind;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The structure-locking scheme, the dual of message passing: the same zones and stages, but a
/// request runs its stages itself on the thread pool, taking each zone's
/// <see cref="System.Threading.Lock"/> for a stage of that zone (worker stages take none), and
/// goes on to the next stage on the same thread; it goes back to the thread pool's queue only
/// when it must wait (a lock's waiter list, the packer, the journal) or after
/// <c>Pipeline:StepsPerRequeue</c> stages. One zone lock at a time, so no lock order can
/// deadlock; the journal's, the inbox's and the metadata writer's own locks are leaves.
/// The orders message passing gets from FIFO queues are kept explicitly: durable reference
/// changes still reach the physical zone through the journal's ordered inbox (I3), and a
/// checkpoint's block-map part waits until every entry before its point has been applied.
/// </summary>
internal sealed partial class ZonedScheduler
{
    private readonly int _stepsPerRequeue;
    private readonly int _lockBatch;
    private readonly Lock[] _zoneLocks;
    private readonly long[] _contended;
    private readonly TokenWork[][] _tokenWork = new TokenWork[Enum.GetValues<TokenKind>().Length][];
    private long _tokensInFlight;
    private int _journalWaiting;
    private int _packerWaiting;

    // Checkpoint sequencing: entries appended but not yet applied to the block map, per generation.
    private readonly long[] _unapplied = new long[2];
    private int _appendGeneration;
    private int _armedGeneration;
    private int _armed;

    /// <summary>
    /// The stateless steps, which run on the request's thread outside any zone lock (Inline: on
    /// the caller, outside the volume's lock); data reads among them (the read holds its LBN's
    /// logical lock, so the block it names cannot be freed and reused meanwhile).
    /// </summary>
    private static bool IsPool(Zone zone) => zone is Zone.Hash or Zone.Verify or Zone.Compress or Zone.DataWrite or Zone.Read;

    // Per slot: true when its steps run on the request's thread outside any zone lock.
    private readonly bool[] _outside;

    // Per slot: which lock its zone steps run under (the slot's own, or 0 for all under Inline).
    private readonly int[] _lockOf;

    private LockingDriver Locker => (LockingDriver)_driver;

    /// <summary>
    /// The StructureLocking driver: a request carries itself through the zones' locks on the
    /// thread that runs it (the caller's, then the thread pool's once it had to wait).
    /// </summary>
    private class LockingDriver(ZonedScheduler s, PipelineOptions p) : SchemeDriver(s)
    {
        // Callers that run steps at once (Pipeline:Runners); null: no limit.
        private readonly RunnerGate? _runners = p.Runners < 0 ? null
            : new RunnerGate(p.Runners == 0 ? Environment.ProcessorCount : p.Runners, TimeSpan.FromMicroseconds(p.RunnerTurnMicroseconds));

        public override bool Locks => true;

        /// <summary>True when this thread holds a runner's slot: what it posts as urgent it runs itself before it leaves.</summary>
        public bool RunnerInside => _runners?.IsInside == true;

        public override bool EnterRunner() => _runners?.Enter() ?? false;

        public override void ExitRunner(bool entered, bool endTurn)
        {
            if (entered)
                S.RunUrgent(); // the urgent work it posted (PostUrgent woke no thread for it)
            _runners?.Exit(entered, endTurn);
        }

        public override bool LeaveRunner()
        {
            if (_runners?.IsInside != true)
                return false;
            S.RunUrgent(); // what it posted as a runner, before it leaves the gate
            return _runners.ExitHeld();
        }

        public override void ReturnRunner() => _runners?.Enter();

        public override void Start(DataVio vio) => S.RunLocking(vio);

        public override void Handoff(DataVio vio, int slot) => Requeue(vio);

        public override void PostToken(TokenKind kind, int index)
        {
            Interlocked.Increment(ref S._tokensInFlight);
            S.PostUrgent(S._tokenWork[(int)kind][index]);
        }

        public override void Barrier() => S.LockBarrier();

        public override void HelpWhileWaiting() => S.RunUrgent(); // the caller runs the commit itself rather than wait for a thread

        public override bool JournalBusy => Volatile.Read(ref S._journalWaiting) > 0;

        // No FIFO queue orders it: it runs once every earlier entry is applied.
        public override void StartLogicalCheckpoint() => S.ArmLogicalCheckpoint();

        public override void CountUnapplied(DataVio vio)
        {
            var state = StateOf(S, vio);
            state.AppliedGeneration = S._appendGeneration;
            state.Unapplied = true;
            Interlocked.Increment(ref S._unapplied[state.AppliedGeneration]);
        }

        public override bool SharedCounts(int slot) => S._outside[slot];

        public override IReadOnlyList<PipelineBlockFigures> Figures() => S.LockFigures();

        public override (long Acquisitions, long Contended) LockCounts =>
            (Enumerable.Range(0, S._slotCount).Where(i => !S._outside[i]).Sum(i => Volatile.Read(ref S._messages[i])), S._contended.Sum());

        public override void Dispose()
        {
        }

        /// <summary>A request that waited (a lock's waiter list, the packer, the journal) runs again.</summary>
        public virtual void Requeue(DataVio vio)
        {
            var work = StateOf(S, vio);
            // Journal ahead of data: these finish requests and free their locks. Behind a runner
            // gate, every resumed request goes there: the runners run it between their stages,
            // instead of thread-pool threads contending with them for the CPUs and the zone locks.
            if (_runners is not null || (Stage)vio.Stage is Stage.JournalPage or Stage.Journal or Stage.CommitRetry or Stage.Update)
                S.PostUrgent(work);
            else
                ThreadPool.UnsafeQueueUserWorkItem(work, preferLocal: false);
        }

        /// <summary>Urgent work was queued: get a thread to run it.</summary>
        public virtual void WakeUrgent() => ThreadPool.UnsafeQueueUserWorkItem(S._urgentWork ??= new UrgentWork(S), preferLocal: false);
    }

    // Priorities (VDO's work queues have them too): control tokens (flush, commit, checkpoint
    // parts, inbox drains) and requests resuming at the journal run before data work. They wait
    // in this queue; a thread-pool item is queued for each, but every request thread also runs
    // them between its stages, and a caller waiting for a flush runs them itself.
    private readonly System.Collections.Concurrent.ConcurrentQueue<IThreadPoolWorkItem> _urgent = new();
    private int _urgentCount;
    private UrgentWork? _urgentWork;

    [ThreadStatic]
    private static bool t_runningUrgent;

    private void PostUrgent(IThreadPoolWorkItem work)
    {
        _urgent.Enqueue(work);
        Interlocked.Increment(ref _urgentCount);
        if (Locker.RunnerInside)
            return; // a runner runs it between its stages or before it leaves the gate: no thread to wake (the inbox drains: one per write)
        Locker.WakeUrgent();
    }

    /// <summary>Runs the urgent work waiting (not from inside urgent work: no nesting).</summary>
    private void RunUrgent()
    {
        if (t_runningUrgent || Volatile.Read(ref _urgentCount) == 0)
            return;
        t_runningUrgent = true;
        try
        {
            while (_urgent.TryDequeue(out var work))
            {
                Interlocked.Decrement(ref _urgentCount);
                work.Execute();
            }
        }
        finally
        {
            t_runningUrgent = false;
        }
    }

    /// <summary>
    /// Runs a request's stages on this thread, each zone stage under its zone's lock; consecutive
    /// stages whose zones share a lock (Inline: all of them) run under one acquisition.
    /// </summary>
    private void RunLocking(DataVio vio)
    {
        var carrier = EnterCarrier();
        try
        {
            RunStages(vio);
        }
        finally
        {
            ExitCarrier(carrier);
        }
    }

    private void RunStages(DataVio vio)
    {
        for (var steps = 0; ;)
        {
            RunUrgent(); // between stages no zone lock is held
            if (steps >= _stepsPerRequeue)
            {
                Send(vio); // fairness: back to the end of the queue
                return;
            }
            var slot = SlotFor(vio);
            Stage next;
            if (_outside[slot])
            {
                var start = Stopwatch.GetTimestamp();
                next = Advance(vio, slot, out _);
                steps++;
                Interlocked.Increment(ref _messages[slot]);
                Interlocked.Add(ref _busyTicks[slot], Stopwatch.GetTimestamp() - start);
            }
            else
            {
                next = AdvanceLocked(vio, slot, ref steps, out var appended);
                if (appended)
                    _z.Hooks.AfterJournalAppend?.Invoke(vio.Lbn);
            }
            if (next is Stage.Parked or Stage.Done)
                return;
        }
    }

    /// <summary>
    /// Runs the request's stages under the lock of <paramref name="slot"/> while they belong to
    /// zones of that lock. <paramref name="appended"/>: it stopped just after appending the
    /// request's journal entry (the hook runs holding no lock).
    /// </summary>
    private Stage AdvanceLocked(DataVio vio, int slot, ref int steps, out bool appended)
    {
        var gate = _lockOf[slot];
        var first = slot;
        var start = EnterZone(slot, KindOf(slot));
        appended = false;
        try
        {
            while (true)
            {
                var zone = KindOf(slot);
                BeforeZoneStep(slot, zone);
                var next = Advance(vio, slot, out var to);
                steps++;
                AfterZoneStep(zone);
                if (next is Stage.Parked or Stage.Done)
                    return next;
                if (zone == Zone.Journal && next == Stage.Update && IsUnapplied(vio) && _z.Hooks.AfterJournalAppend is not null)
                {
                    appended = true;
                    return next;
                }
                if (steps >= _stepsPerRequeue || _outside[to] || _lockOf[to] != gate)
                    return next;
                slot = to;
            }
        }
        finally
        {
            ExitZone(first, start);
        }
    }

    /// <summary>Takes the zone lock of <paramref name="slot"/> (counting contention and journal/packer waiters); returns when it was taken.</summary>
    private long EnterZone(int slot, Zone zone)
    {
        var gate = _zoneLocks[slot];
        if (zone == Zone.Journal)
            Interlocked.Increment(ref _journalWaiting);
        else if (zone == Zone.Packer)
            Interlocked.Increment(ref _packerWaiting);
        if (!gate.TryEnter())
        {
            Interlocked.Increment(ref _contended[slot]);
            gate.Enter();
        }
        if (zone == Zone.Journal)
            Interlocked.Decrement(ref _journalWaiting);
        else if (zone == Zone.Packer)
            Interlocked.Decrement(ref _packerWaiting);
        return Stopwatch.GetTimestamp();
    }

    /// <summary>First thing under a zone lock: a physical zone applies the journal's pending changes (no queue puts them ahead of this request).</summary>
    private void BeforeZoneStep(int slot, Zone zone)
    {
        if (zone != Zone.Physical)
            return;
        try
        {
            _physicalInbox.DrainIfPending(_slotIndex[slot]);
        }
        catch (Exception e)
        {
            // A slab-journal or ref-count write failed: that fails the volume (as in the drain
            // token), not the thread carrying this request, which would then be lost with it and
            // hang the next flush (crash torture, Inline, point 121 of seed 20261207). The step
            // below sees the failure and unwinds the request.
            Failed(e);
        }
    }

    /// <summary>Counts one acquisition of the zone lock of <paramref name="slot"/> and its time held, and releases it.</summary>
    private void ExitZone(int slot, long start)
    {
        _messages[slot]++;
        _busyTicks[slot] += Stopwatch.GetTimestamp() - start;
        _zoneLocks[slot].Exit();
    }

    /// <summary>
    /// Takes a request from the pool for the next block of a caller's request. A caller never
    /// waits for the pool while it holds requests that only it can move on, or every entry of
    /// the pool could sit in callers that wait for each other:
    /// <list type="bullet">
    /// <item>requests in its partial batch (<c>Pipeline:LockBatch</c>) run only when the batch is
    /// full: it runs them first (seen with 4 callers, batches of 8 and a pool of 24: 4 + 6 + 7 + 7
    /// requests at stage Name, the writers polling the pool);</item>
    /// <item>its <paramref name="heldReads"/> reads of this window stay taken until the window is
    /// copied out: it returns null, and the caller ends the window there (a read larger than the
    /// pool, or readers each holding part of it, waited forever).</item>
    /// </list>
    /// </summary>
    private DataVio? AcquireRequest(int heldReads, List<DataVio>? batch)
    {
        if (heldReads > 0 || batch is { Count: > 0 })
        {
            if (_pool.TryAcquire(out var vio))
                return vio;
            if (heldReads > 0)
                return null;
            RunBatch(batch!);
        }
        if (_pool.TryAcquire(out var free))
            return free;
        var left = _driver.LeaveRunner(); // nobody waits in line behind a runner that waits for the pool
        try
        {
            return _pool.Acquire(this);
        }
        finally
        {
            if (left)
                _driver.ReturnRunner();
        }
    }

    /// <summary>
    /// The batched variant (<c>Pipeline:LockBatch</c>): runs a caller's requests together on this
    /// thread. Each round takes the slot of the first request still in the batch; for a zone it
    /// takes the zone's lock once and runs, in request order, every request whose stage belongs to
    /// it (each as many stages as stay there); for a worker step it runs each such request's step.
    /// A request that parks (a lock's waiter list, the packer, the journal) or completes leaves the
    /// batch at once: another thread may own it from then on.
    /// </summary>
    private void RunBatch(List<DataVio> batch)
    {
        var carrier = EnterCarrier();
        try
        {
            RunBatchRounds(batch);
        }
        finally
        {
            ExitCarrier(carrier);
        }
    }

    private void RunBatchRounds(List<DataVio> batch)
    {
        for (var rounds = 0; batch.Count > 0; rounds++)
        {
            RunUrgent();
            if (rounds == _stepsPerRequeue * 2)
            {
                foreach (var v in batch)
                    Send(v); // fairness: the rest go back to the end of the queue, alone
                batch.Clear();
                return;
            }
            var slot = SlotFor(batch[0]);
            if (!_outside[slot])
                RunBatchLocked(batch, slot);
            else if (KindOf(slot) == Zone.DataWrite)
                RunBatchWrites(batch, slot);
            else if (KindOf(slot) == Zone.Verify)
                RunBatchVerify(batch, slot);
            else
                RunBatchPool(batch, slot);
        }
    }

    private void RunBatchPool(List<DataVio> batch, int slot)
    {
        var start = Stopwatch.GetTimestamp();
        var kept = 0;
        var ran = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            var vio = batch[i];
            if (SlotFor(vio) == slot)
            {
                ran++;
                if (Advance(vio, slot, out _) is Stage.Parked or Stage.Done)
                    continue; // no longer ours
            }
            batch[kept++] = vio;
        }
        batch.RemoveRange(kept, batch.Count - kept);
        Interlocked.Add(ref _messages[slot], ran);
        Interlocked.Add(ref _busyTicks[slot], Stopwatch.GetTimestamp() - start);
    }

    /// <summary>
    /// The batch's data writes (<see cref="Stage.WriteData"/>): runs of consecutive blocks go out
    /// as one vectored write, and a batch of at least <see cref="WriteAroundMinBlocks"/> writes
    /// around the device's cache (a large request: through the cache's single writer thread
    /// 1 MiB writes fell to 0.56x, perf/README.md). Each request then goes on as after
    /// its own <see cref="Stage.WriteData"/> step.
    /// </summary>
    private void RunBatchWrites(List<DataVio> batch, int slot)
    {
        var start = Stopwatch.GetTimestamp();
        var writing = t_writing ??= new List<DataVio>(Window);
        var sources = t_sources ??= new List<ReadOnlyMemory<byte>>(Window);
        var kept = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            if (SlotFor(batch[i]) == slot)
                writing.Add(batch[i]);
            else
                batch[kept++] = batch[i];
        }
        batch.RemoveRange(kept, batch.Count - kept);
        var count = writing.Count;
        var around = count >= WriteAroundMinBlocks;
        try
        {
            for (var i = 0; i < writing.Count;)
            {
                var from = i;
                var first = writing[i].Allocation;
                sources.Clear();
                do
                    sources.Add(writing[i].Data);
                while (++i < writing.Count && writing[i].Allocation == first + sources.Count);
                Exception? error = null;
                try
                {
                    if (_failure is null)
                    {
                        if (around)
                            _z.Device.WriteAround(first, sources);
                        else if (sources.Count == 1)
                            _z.Device.Write(first, writing[from].Data);
                        else
                            _z.Device.Write(first, sources);
                    }
                }
                catch (Exception e)
                {
                    error = e;
                }
                for (var j = from; j < i; j++)
                {
                    var vio = writing[j];
                    if (AdvanceWritten(vio, slot, error) is not (Stage.Parked or Stage.Done))
                        batch.Add(vio);
                }
            }
        }
        finally
        {
            sources.Clear();
            writing.Clear();
        }
        Interlocked.Add(ref _messages[slot], count);
        Interlocked.Add(ref _busyTicks[slot], Stopwatch.GetTimestamp() - start);
    }

    /// <summary>
    /// The batch's verify reads (<see cref="Stage.Verify"/>): runs of consecutive candidates, as a
    /// rewrite of data already in the pool finds them, are read in one vectored read; each request
    /// then goes on as after its own step.
    /// </summary>
    private void RunBatchVerify(List<DataVio> batch, int slot)
    {
        var start = Stopwatch.GetTimestamp();
        var verifying = t_writing ??= new List<DataVio>(Window);
        var kept = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            if (SlotFor(batch[i]) == slot)
                verifying.Add(batch[i]);
            else
                batch[kept++] = batch[i];
        }
        batch.RemoveRange(kept, batch.Count - kept);
        var count = verifying.Count;
        Exception? error = null;
        try
        {
            if (_failure is null)
                _z.Verify.ReadCandidates(verifying, t_reads ??= new List<Memory<byte>>(Window));
        }
        catch (Exception e)
        {
            error = e;
        }
        try
        {
            foreach (var vio in verifying)
            {
                if (AdvanceWritten(vio, slot, error) is not (Stage.Parked or Stage.Done))
                    batch.Add(vio);
            }
        }
        finally
        {
            verifying.Clear();
        }
        Interlocked.Add(ref _messages[slot], count);
        Interlocked.Add(ref _busyTicks[slot], Stopwatch.GetTimestamp() - start);
    }

    [ThreadStatic]
    private static List<Memory<byte>>? t_reads;

    /// <summary>Blocks written in one batch from which the batch writes around the device's cache (128 KiB).</summary>
    internal const int WriteAroundMinBlocks = 32;

    [ThreadStatic]
    private static List<DataVio>? t_writing;

    [ThreadStatic]
    private static List<ReadOnlyMemory<byte>>? t_sources;

    /// <summary>
    /// Takes the lock of <paramref name="slot"/> once and runs, in request order, every request of
    /// the batch whose stage belongs to a zone of that lock, each as many stages as stay there.
    /// </summary>
    private void RunBatchLocked(List<DataVio> batch, int slot)
    {
        var gate = _lockOf[slot];
        var start = EnterZone(slot, KindOf(slot));
        var kept = 0;
        var appended = 0;
        var journal = false;
        var packer = false;
        try
        {
            for (var i = 0; i < batch.Count; i++)
            {
                var vio = batch[i];
                var gone = false;
                for (var steps = 0; steps < _stepsPerRequeue; steps++)
                {
                    var here = SlotFor(vio);
                    if (_outside[here] || _lockOf[here] != gate)
                        break;
                    var zone = KindOf(here);
                    BeforeZoneStep(here, zone);
                    var next = Advance(vio, here, out _);
                    journal |= zone == Zone.Journal;
                    packer |= zone == Zone.Packer;
                    if (next is Stage.Parked or Stage.Done)
                    {
                        gone = true; // no longer ours
                        break;
                    }
                    if (zone == Zone.Journal && next == Stage.Update && IsUnapplied(vio) && _z.Hooks.AfterJournalAppend is not null)
                    {
                        AppendedInBatch[appended++] = vio;
                        break; // the hook runs between its append and its block-map update
                    }
                }
                if (!gone)
                    batch[kept++] = vio;
            }
            batch.RemoveRange(kept, batch.Count - kept);
            if (journal)
                AfterZoneStep(Zone.Journal);
            if (packer)
                AfterZoneStep(Zone.Packer);
        }
        finally
        {
            ExitZone(slot, start);
        }
        for (var i = 0; i < appended; i++)
        {
            _z.Hooks.AfterJournalAppend!.Invoke(AppendedInBatch[i].Lbn); // as RunLocking: outside the journal's lock
            AppendedInBatch[i] = null!;
        }
    }

    [ThreadStatic]
    private static DataVio[]? t_appended;

    private static DataVio[] AppendedInBatch => t_appended ??= new DataVio[64];

    /// <summary>What message passing does after a message of the journal or packer block (group commit, checkpoints, Sync packing).</summary>
    private void AfterZoneStep(Zone zone)
    {
        if (zone == Zone.Journal)
        {
            if (_sync)
                AfterJournalMessage();
            StartCheckpointIfNeeded(force: false);
        }
        else if (zone == Zone.Packer && _sync && Volatile.Read(ref _packerWaiting) == 0)
        {
            CloseBinsWhenIdle();
        }
    }

    private void RunTokenLocked(TokenKind kind, int index)
    {
        var zone = TokenHome(kind);
        var carrier = EnterCarrier();
        try
        {
            var slot = SlotOf(zone, index);
            var start = EnterZone(slot, zone); // a token's acquisition counts like a request's
            try
            {
                RunToken(kind, zone, index);
                AfterZoneStep(zone);
            }
            finally
            {
                ExitZone(slot, start);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _tokensInFlight);
            ExitCarrier(carrier);
        }
    }

    /// <summary>Every token has run and no stage holds a zone lock (quiescing; no request is in flight).</summary>
    private void LockBarrier()
    {
        var spin = new SpinWait();
        while (Interlocked.Read(ref _tokensInFlight) > 0)
            spin.SpinOnce();
        foreach (var gate in _zoneLocks)
        {
            gate.Enter();
            gate.Exit();
        }
        for (var z = 0; z < _physicalZoneCount; z++)
        {
            lock (_zoneLocks[SlotOf(Zone.Physical, z)])
                _physicalInbox.Drain(z);
        }
    }

    /// <summary>The request's entry is in the block map (logical lock held): maybe the checkpoint can write it now.</summary>
    private void MarkApplied(DataVio vio)
    {
        if (vio.DriverState is not RequestWork { Unapplied: true } state)
            return; // message passing: the logical zone's FIFO queue orders it
        state.Unapplied = false;
        var g = state.AppliedGeneration;
        if (Interlocked.Decrement(ref _unapplied[g]) == 0 && Volatile.Read(ref _armedGeneration) == g && Interlocked.Exchange(ref _armed, 0) == 1)
            PostTokenToAll(TokenKind.CheckpointLogical);
    }

    /// <summary>A checkpoint began (journal lock held): entries from now on count in the other generation.</summary>
    private void ArmLogicalCheckpoint()
    {
        var old = _appendGeneration;
        _appendGeneration = old ^ 1;
        Volatile.Write(ref _armedGeneration, old);
        Volatile.Write(ref _armed, 1);
        if (Interlocked.Read(ref _unapplied[old]) == 0 && Interlocked.Exchange(ref _armed, 0) == 1)
            PostTokenToAll(TokenKind.CheckpointLogical);
    }

    private IReadOnlyList<PipelineBlockFigures> LockFigures()
    {
        var list = new List<PipelineBlockFigures>(_slotCount);
        for (var i = 0; i < _slotCount; i++)
        {
            var pool = _outside[i];
            list.Add(new PipelineBlockFigures(SlotName(i), Volatile.Read(ref _messages[i]), 0,
                Volatile.Read(ref _busyTicks[i]) / (double)Stopwatch.Frequency, pool ? Environment.ProcessorCount : 1, Interlocked.Read(ref _contended[i])));
        }
        return list;
    }

    /// <summary>Zone-lock acquisitions so far (0 for message passing).</summary>
    public long LockAcquisitions => _driver.LockCounts.Acquisitions;

    /// <summary>Zone-lock acquisitions that had to wait (0 for message passing).</summary>
    public long LockContentions => _driver.LockCounts.Contended;

    /// <summary>True while the request's entry is appended but not yet applied to the block map (lock drivers).</summary>
    private static bool IsUnapplied(DataVio vio) => vio.DriverState is RequestWork { Unapplied: true };

    /// <summary>The lock drivers' state of a request, made on first use (the request pool is this scheduler's).</summary>
    private static RequestWork StateOf(ZonedScheduler owner, DataVio vio) => (RequestWork)(vio.DriverState ??= new RequestWork(owner, vio));

    /// <summary>
    /// The lock drivers' state of a request: how it runs again once it waited, and whether its
    /// journal entry is appended but not yet applied to the block map (the checkpoint's block-map
    /// part waits for every entry of its generation).
    /// </summary>
    private sealed class RequestWork(ZonedScheduler owner, DataVio vio) : IThreadPoolWorkItem, IDriverState
    {
        /// <summary>True while the entry is appended and not yet applied.</summary>
        public bool Unapplied { get; set; }

        /// <summary>The checkpoint generation the entry counts in.</summary>
        public int AppliedGeneration { get; set; }

        public void Execute() => owner.RunLocking(vio);

        public void Reset() => Unapplied = false;
    }

    private sealed class UrgentWork(ZonedScheduler owner) : IThreadPoolWorkItem
    {
        public void Execute() => owner.RunUrgent();
    }

    private sealed class TokenWork(ZonedScheduler owner, TokenKind kind, int index) : IThreadPoolWorkItem
    {
        public void Execute() => owner.RunTokenLocked(kind, index);
    }
}
