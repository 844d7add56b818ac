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
/// Everything of the scheme is the driver's: the zone locks, the urgent lane, the runner gate,
/// the checkpoint's ordering and the batched variant (<c>ZonedScheduler.Locking.Batches.cs</c>);
/// the stage machine it drives is the scheduler's.
/// </summary>
internal sealed partial class ZonedScheduler
{
    /// <summary>
    /// The StructureLocking driver: a request carries itself through the zones' locks on the
    /// thread that runs it (the caller's, then the thread pool's once it had to wait).
    /// </summary>
    private partial class LockingDriver : SchemeDriver
    {
        private readonly int _lockBatch;
        private readonly int _stepsPerRequeue;

        // Per slot: the lock its zone steps run under, and which slot owns that lock (the slot's
        // own; the first slot of a shared executor; 0 for every zone under Inline).
        private readonly Lock[] _zoneLocks;
        private readonly int[] _lockOf;

        // Per slot: the physical zones whose lock is the slot's (drained before it is released, DrainHeldInboxes).
        private readonly int[][] _drainsOf;

        // Per slot: true when its steps run on the request's thread outside any zone lock.
        private readonly bool[] _outside;

        private readonly long[] _contended;
        private readonly TokenWork[][] _tokenWork;
        private long _tokensInFlight;
        private int _journalWaiting;
        private int _packerWaiting;

        // Checkpoint sequencing: entries appended but not yet applied to the block map, per generation.
        private readonly long[] _unapplied = new long[2];
        private int _appendGeneration;
        private int _armedGeneration;
        private int _armed;

        // Callers that run steps at once (Pipeline:Runners); null: no limit.
        private readonly RunnerGate? _runners;

        public LockingDriver(ZonedScheduler s, PipelineOptions p)
            : this(s, p, oneLock: false)
        {
        }

        /// <param name="s">The scheduler whose stages this driver runs.</param>
        /// <param name="p">The pipeline's options.</param>
        /// <param name="oneLock">
        /// Inline: every zone shares one lock, and a caller's request runs as one batch (up to a
        /// window of 256 blocks), its hashes, compressions and data writes outside the lock, the
        /// data writes vectored. Otherwise each zone has its own lock unless
        /// <c>Pipeline:Executors</c> gives its kind an executor that other kinds share.
        /// </param>
        protected LockingDriver(ZonedScheduler s, PipelineOptions p, bool oneLock)
            : base(s)
        {
            _runners = p.Runners < 0 ? null
                : new RunnerGate(p.Runners == 0 ? Environment.ProcessorCount : p.Runners, TimeSpan.FromMicroseconds(p.RunnerTurnMicroseconds));
            _lockBatch = oneLock ? MaxWindow : p.LockBatch;
            _stepsPerRequeue = p.StepsPerRequeue;
            var count = s._slotCount;
            var volumeLock = new Lock();
            var executors = new Dictionary<string, (Lock Lock, int Slot)>(StringComparer.OrdinalIgnoreCase);
            _zoneLocks = new Lock[count];
            _lockOf = new int[count];
            for (var slot = 0; slot < count; slot++)
            {
                if (oneLock)
                    (_zoneLocks[slot], _lockOf[slot]) = (volumeLock, 0);
                else if (!IsPool(s._slotKind[slot]) && p.ExecutorOf(s._slotKind[slot].ToString()) is { } name)
                {
                    if (!executors.TryGetValue(name, out var shared))
                        executors[name] = shared = (new Lock(), slot);
                    (_zoneLocks[slot], _lockOf[slot]) = shared;
                }
                else
                    (_zoneLocks[slot], _lockOf[slot]) = (new Lock(), slot);
            }
            _outside = [.. Enumerable.Range(0, count).Select(slot => IsPool(s._slotKind[slot]))];
            _drainsOf = [.. Enumerable.Range(0, count).Select(slot =>
                Enumerable.Range(0, s._physicalZoneCount).Where(z => _lockOf[s.SlotOf(Zone.Physical, z)] == _lockOf[slot]).ToArray())];
            _contended = new long[count];
            _tokenWork = new TokenWork[Enum.GetValues<TokenKind>().Length][];
            for (var i = 0; i < _tokenWork.Length; i++)
                _tokenWork[i] = [.. Enumerable.Range(0, s._kindCount[(int)s.TokenHome((TokenKind)i)]).Select(z => new TokenWork(this, (TokenKind)i, z))];
        }

        public override bool Locks => true;

        public override int BatchSize => _lockBatch;

        /// <summary>True when this thread holds a runner's slot: what it posts as urgent it runs itself before it leaves.</summary>
        public bool RunnerInside => _runners?.IsInside == true;

        public override bool EnterRunner() => _runners?.Enter() ?? false;

        public override void ExitRunner(bool entered, bool endTurn)
        {
            if (entered)
                RunUrgent(); // the urgent work it posted (PostUrgent woke no thread for it)
            _runners?.Exit(entered, endTurn);
        }

        public override bool LeaveRunner()
        {
            if (_runners?.IsInside != true)
                return false;
            RunUrgent(); // what it posted as a runner, before it leaves the gate
            return _runners.ExitHeld();
        }

        public override void ReturnRunner() => _runners?.Enter();

        public override void Start(DataVio vio) => RunLocking(vio);

        public override void Handoff(DataVio vio, int slot) => Requeue(vio);

        public override bool PostToken(TokenKind kind, int index)
        {
            // The journal publishes durable reference changes to a physical zone's inbox; when this
            // thread holds that zone's lock (Inline: the one lock, held by every journal step), it
            // drains the inbox itself before releasing the lock (ExitZone) instead of posting a
            // drain token: about one token, one urgent-lane round trip and one lock acquisition
            // less per write. The inbox stays marked as posted until then, so nobody else posts.
            if (kind == TokenKind.DrainInbox && ReferenceEquals(t_holding, this) && _zoneLocks[S.SlotOf(Zone.Physical, index)].IsHeldByCurrentThread)
            {
                t_drainOnExit = true;
                return false;
            }
            Interlocked.Increment(ref _tokensInFlight);
            PostUrgent(_tokenWork[(int)kind][index]);
            return true;
        }

        /// <summary>Every token has run and no stage holds a zone lock (quiescing; no request is in flight).</summary>
        public override void Barrier()
        {
            var spin = new SpinWait();
            while (Interlocked.Read(ref _tokensInFlight) > 0)
                spin.SpinOnce();
            foreach (var gate in _zoneLocks)
            {
                gate.Enter();
                gate.Exit();
            }
            for (var z = 0; z < S._physicalZoneCount; z++)
            {
                lock (_zoneLocks[S.SlotOf(Zone.Physical, z)])
                    S._physicalInbox.Drain(z);
            }
        }

        public override void HelpWhileWaiting() => RunUrgent(); // the caller runs the commit itself rather than wait for a thread

        public override bool JournalBusy => Volatile.Read(ref _journalWaiting) > 0;

        /// <summary>
        /// A checkpoint began (journal lock held): entries from now on count in the other
        /// generation, and the logical zones' part runs once every entry of this one is applied
        /// (no FIFO queue orders it).
        /// </summary>
        public override void StartLogicalCheckpoint()
        {
            var old = _appendGeneration;
            _appendGeneration = old ^ 1;
            Volatile.Write(ref _armedGeneration, old);
            Volatile.Write(ref _armed, 1);
            if (Interlocked.Read(ref _unapplied[old]) == 0 && Interlocked.Exchange(ref _armed, 0) == 1)
                S.PostTokenToAll(TokenKind.CheckpointLogical);
        }

        public override void CountUnapplied(DataVio vio)
        {
            var state = StateOf(vio);
            state.AppliedGeneration = _appendGeneration;
            state.Unapplied = true;
            Interlocked.Increment(ref _unapplied[state.AppliedGeneration]);
        }

        /// <summary>The request's entry is in the block map (logical lock held): maybe the checkpoint can write it now.</summary>
        public override void Applied(DataVio vio)
        {
            if (vio.DriverState is not RequestWork { Unapplied: true } state)
                return;
            state.Unapplied = false;
            var g = state.AppliedGeneration;
            if (Interlocked.Decrement(ref _unapplied[g]) == 0 && Volatile.Read(ref _armedGeneration) == g && Interlocked.Exchange(ref _armed, 0) == 1)
                S.PostTokenToAll(TokenKind.CheckpointLogical);
        }

        public override bool SharedCounts(int slot) => _outside[slot];

        public override string Queues =>
            $"urgent={Volatile.Read(ref _urgentCount)} tokens={Interlocked.Read(ref _tokensInFlight)} journalWaiting={_journalWaiting} packerWaiting={_packerWaiting} " +
            $"unapplied={Interlocked.Read(ref _unapplied[0])}/{Interlocked.Read(ref _unapplied[1])} armed={_armed} runners=[{_runners?.ToString() ?? "no gate"}]";

        public override IReadOnlyList<PipelineBlockFigures> Figures()
        {
            var list = new List<PipelineBlockFigures>(S._slotCount);
            for (var i = 0; i < S._slotCount; i++)
            {
                var pool = _outside[i];
                list.Add(new PipelineBlockFigures(S.SlotName(i), Volatile.Read(ref S._messages[i]), 0,
                    Volatile.Read(ref S._busyTicks[i]) / (double)Stopwatch.Frequency, pool ? Environment.ProcessorCount : 1, Interlocked.Read(ref _contended[i])));
            }
            return list;
        }

        public override (long Acquisitions, long Contended) LockCounts =>
            (Enumerable.Range(0, S._slotCount).Where(i => !_outside[i]).Sum(i => Volatile.Read(ref S._messages[i])), _contended.Sum());

        public override void Dispose()
        {
        }

        /// <summary>A request that waited (a lock's waiter list, the packer, the journal) runs again.</summary>
        protected virtual void Requeue(DataVio vio)
        {
            var work = StateOf(vio);
            // Journal ahead of data: these finish requests and free their locks. Behind a runner
            // gate, every resumed request goes there: the runners run it between their stages,
            // instead of thread-pool threads contending with them for the CPUs and the zone locks.
            if (_runners is not null || (Stage)vio.Stage is Stage.JournalPage or Stage.Journal or Stage.CommitRetry or Stage.Update)
                PostUrgent(work);
            else
                ThreadPool.UnsafeQueueUserWorkItem(work, preferLocal: false);
        }

        /// <summary>Urgent work was queued: get a thread to run it.</summary>
        protected virtual void WakeUrgent() => ThreadPool.UnsafeQueueUserWorkItem(_urgentWork ??= new UrgentWork(this), preferLocal: false);

        /// <summary>Inline: true when this thread carries requests and runs the urgent work it posts before it stops carrying.</summary>
        protected virtual bool RunsUrgentBeforeLeaving => false;

        /// <summary>Inline: makes this thread the carrier of the requests it sets going; false when it already is, or the driver does not carry.</summary>
        protected virtual bool EnterCarrier() => false;

        /// <summary>Inline: carries on the requests this thread set going, then stops carrying.</summary>
        protected virtual void ExitCarrier(bool carrier)
        {
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

        /// <summary>The lock the zone steps of <paramref name="slot"/> run under.</summary>
        protected Lock ZoneLock(int slot) => _zoneLocks[slot];

        /// <summary>True while urgent work waits.</summary>
        protected bool UrgentWaiting => Volatile.Read(ref _urgentCount) > 0;

        protected void PostUrgent(IThreadPoolWorkItem work)
        {
            _urgent.Enqueue(work);
            Interlocked.Increment(ref _urgentCount);
            if (RunnerInside || RunsUrgentBeforeLeaving)
                return; // a runner runs it between its stages or before it leaves the gate, a carrier before it stops carrying: no thread to wake (the inbox drains: one per write)
            WakeUrgent();
        }

        /// <summary>Runs the urgent work waiting (not from inside urgent work: no nesting).</summary>
        protected void RunUrgent()
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

        protected void RunStages(DataVio vio)
        {
            for (var steps = 0; ;)
            {
                RunUrgent(); // between stages no zone lock is held
                if (steps >= _stepsPerRequeue)
                {
                    S.Send(vio); // fairness: back to the end of the queue
                    return;
                }
                var slot = S.SlotFor(vio);
                Stage next;
                if (_outside[slot])
                {
                    var start = BusyStart();
                    next = S.Advance(vio, slot, out _);
                    steps++;
                    Interlocked.Increment(ref S._messages[slot]);
                    AddBusy(slot, start, shared: true);
                }
                else
                {
                    next = AdvanceLocked(vio, slot, ref steps, out var appended);
                    if (appended)
                        S._z.Hooks.AfterJournalAppend?.Invoke(vio.Lbn);
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
            var start = EnterZone(slot, S.KindOf(slot));
            appended = false;
            try
            {
                while (true)
                {
                    var zone = S.KindOf(slot);
                    BeforeZoneStep(slot, zone);
                    var next = S.Advance(vio, slot, out var to);
                    steps++;
                    AfterZoneStep(zone);
                    if (next is Stage.Parked or Stage.Done)
                        return next;
                    if (zone == Zone.Journal && next == Stage.Update && IsUnapplied(vio) && S._z.Hooks.AfterJournalAppend is not null)
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
            t_holding = this;
            return BusyStart();
        }

        /// <summary>First thing under a zone lock: a physical zone applies the journal's pending changes (no queue puts them ahead of this request).</summary>
        private void BeforeZoneStep(int slot, Zone zone)
        {
            if (zone != Zone.Physical)
                return;
            try
            {
                S._physicalInbox.DrainIfPending(S._slotIndex[slot]);
            }
            catch (Exception e)
            {
                // A slab-journal or ref-count write failed: that fails the volume (as in the drain
                // token), not the thread carrying this request, which would then be lost with it and
                // hang the next flush (crash torture, Inline, point 121 of seed 20261207). The step
                // below sees the failure and unwinds the request.
                S.Failed(e);
            }
        }

        /// <summary>Counts one acquisition of the zone lock of <paramref name="slot"/> and its time held, and releases it.</summary>
        private void ExitZone(int slot, long start)
        {
            if (t_drainOnExit)
                DrainHeldInboxes(slot);
            t_holding = null;
            S._messages[slot]++;
            AddBusy(slot, start, shared: false);
            _zoneLocks[slot].Exit();
        }

        // Busy time is sampled: one stage (or zone-lock hold) in BusySampleEvery of each thread's is
        // timed and counted that many times over. Two clock reads per stage were ~1.3% of a
        // mount's CPU per 4 KiB write (0.17 µs of 13; perf/README.md); the figures are means over
        // many requests, which the sample keeps.
        private const int BusySampleEvery = 8;

        [ThreadStatic]
        private static int t_busyTick;

        /// <summary>The start of a timed stage, or 0 when this one is not in the sample.</summary>
        private static long BusyStart() => (++t_busyTick & (BusySampleEvery - 1)) == 0 ? Stopwatch.GetTimestamp() : 0;

        /// <summary>Adds a sampled stage's time to the figures of <paramref name="slot"/> (<paramref name="shared"/>: several threads count it).</summary>
        private void AddBusy(int slot, long start, bool shared)
        {
            if (start == 0)
                return;
            var ticks = (Stopwatch.GetTimestamp() - start) * BusySampleEvery;
            if (shared)
                Interlocked.Add(ref S._busyTicks[slot], ticks);
            else
                S._busyTicks[slot] += ticks;
        }

        /// <summary>
        /// Applies what the physical zones under the lock of <paramref name="slot"/> received while
        /// this thread held it (<see cref="PostToken"/> posted no drain token for them); a failed
        /// slab-journal or ref-count write fails the volume, as in the drain token.
        /// </summary>
        private void DrainHeldInboxes(int slot)
        {
            t_drainOnExit = false;
            foreach (var zone in _drainsOf[slot])
            {
                try
                {
                    S._physicalInbox.DrainIfPending(zone);
                }
                catch (Exception e)
                {
                    S.Failed(e);
                }
            }
        }

        // The driver whose zone lock this thread holds (between EnterZone and ExitZone), and
        // whether it skipped a drain token meanwhile (PostToken).
        [ThreadStatic]
        private static LockingDriver? t_holding;

        [ThreadStatic]
        private static bool t_drainOnExit;

        /// <summary>What message passing does after a message of the journal or packer block (group commit, checkpoints, Sync packing).</summary>
        private void AfterZoneStep(Zone zone)
        {
            if (zone == Zone.Journal)
            {
                if (S._sync)
                    S.AfterJournalMessage();
                S.StartCheckpointIfNeeded(force: false);
            }
            else if (zone == Zone.Packer && S._sync && Volatile.Read(ref _packerWaiting) == 0)
            {
                S.CloseBinsWhenIdle();
            }
        }

        private void RunTokenLocked(TokenKind kind, int index)
        {
            var zone = S.TokenHome(kind);
            var carrier = EnterCarrier();
            try
            {
                var slot = S.SlotOf(zone, index);
                var start = EnterZone(slot, zone); // a token's acquisition counts like a request's
                try
                {
                    S.RunToken(kind, zone, index);
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

        /// <summary>True while the request's entry is appended but not yet applied to the block map.</summary>
        private static bool IsUnapplied(DataVio vio) => vio.DriverState is RequestWork { Unapplied: true };

        /// <summary>The driver's state of a request, made on first use (the request pool is this scheduler's).</summary>
        protected RequestWork StateOf(DataVio vio) => (RequestWork)(vio.DriverState ??= new RequestWork(this, vio));

        /// <summary>
        /// The lock drivers' state of a request: how it runs again once it waited, and whether its
        /// journal entry is appended but not yet applied to the block map (the checkpoint's block-map
        /// part waits for every entry of its generation).
        /// </summary>
        protected sealed class RequestWork(LockingDriver owner, DataVio vio) : IThreadPoolWorkItem, IDriverState
        {
            /// <summary>True while the entry is appended and not yet applied.</summary>
            public bool Unapplied { get; set; }

            /// <summary>The checkpoint generation the entry counts in.</summary>
            public int AppliedGeneration { get; set; }

            public void Execute() => owner.RunLocking(vio);

            public void Reset() => Unapplied = false;
        }

        private sealed class UrgentWork(LockingDriver owner) : IThreadPoolWorkItem
        {
            public void Execute() => owner.RunUrgent();
        }

        private sealed class TokenWork(LockingDriver owner, TokenKind kind, int index) : IThreadPoolWorkItem
        {
            public void Execute() => owner.RunTokenLocked(kind, index);
        }
    }
}
