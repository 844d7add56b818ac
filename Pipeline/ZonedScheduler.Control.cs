using DataflowVdo.Blocks;
using DataflowVdo.Blocks.Stages;
using DataflowVdo.Storage;
using Zone = DataflowVdo.Blocks.Stages.ZoneKind;

namespace DataflowVdo.Pipeline;

/// <summary>Admission, acknowledgement, flush, checkpoint and quiescence of the message-passing scheme.</summary>
internal sealed partial class ZonedScheduler
{
    /// <summary>A control message (not a request): which zone work it asks for.</summary>
    private enum TokenKind
    {
        FlushPacker,
        PushUrgent,
        Pressure,
        Commit,
        DrainInbox,
        Barrier,
        CheckpointLogical,
        CheckpointPhysical,
        CheckpointPartDone,
    }

    private readonly PhysicalInbox _physicalInbox;
    private readonly ReaderWriterLockSlim _gate = new(LockRecursionPolicy.NoRecursion);
    private readonly Lock _flushLock = new();
    private readonly long[] _epochCounts = new long[2];
    private readonly ManualResetEventSlim _epochDrained = new(false);
    private readonly ManualResetEventSlim _committed = new(false);
    private readonly CountdownEvent _barrier = new(1);
    private int _epoch;
    private int _eager;
    private long _commits;
    private bool _checkpointing;
    private int _checkpointParts;
    private ulong _checkpointSequence;

    [ThreadStatic]
    private static BatchCompletion? t_completion;

    [ThreadStatic]
    private static List<DataVio>? t_batch;

    // ---- Requests from callers -----------------------------------------------------------

    /// <summary>Writes <paramref name="count"/> consecutive blocks and waits until each is acknowledged.</summary>
    public void Write(long lbn, ReadOnlySpan<byte> blocks, int count) => Submit(VioOperation.Write, lbn, blocks, default, count);

    /// <summary>Discards <paramref name="count"/> consecutive blocks.</summary>
    public void Discard(long lbn, int count) => Submit(VioOperation.Discard, lbn, default, default, count);

    /// <summary>Reads <paramref name="count"/> consecutive blocks.</summary>
    public void Read(long lbn, Span<byte> blocks, int count) => Submit(VioOperation.Read, lbn, default, blocks, count);

    /// <summary>A large request goes in windows of this many blocks (the driver's <see cref="SchemeDriver.Window"/>), so one caller cannot take the whole pool.</summary>
    private const int Window = 64;

    /// <summary>The largest window a driver may ask for (Inline's: a 1 MiB request in one).</summary>
    private const int MaxWindow = 256;

    private unsafe void Submit(VioOperation op, long lbn, ReadOnlySpan<byte> source, Span<byte> destination, int count)
    {
        // Reads fill the caller's buffer in place (DataVio.ReadBuffer): pinned here, and every read
        // of a window completes before the next window or the return.
        fixed (byte* target = destination)
            SubmitWindows(op, lbn, source, target, count);
    }

    private unsafe void SubmitWindows(VioOperation op, long lbn, ReadOnlySpan<byte> source, byte* destination, int count)
    {
        var done = t_completion ??= new BatchCompletion();
        var batch = _driver.BatchSize > 1 && count > 1 ? t_batch ??= new List<DataVio>(64) : null;
        batch?.Clear();
        for (int first = 0, n; first < count; first += n)
        {
            n = Math.Min(_driver.Window, count - first);
            done.Start(n);
            _gate.EnterReadLock();
            var runner = _driver.EnterRunner(); // after the quiesce gate: a quiesce never waits for a runner's slot
            try
            {
                for (var i = 0; i < n; i++)
                {
                    if (AcquireRequest(op == VioOperation.Read ? i : 0, batch) is not { } vio)
                    {
                        done.EndEarly(n - i); // the window ends here
                        n = i;
                        break;
                    }
                    var b = first + i;
                    vio.Reset(op, lbn + b);
                    vio.Completion = done;
                    if (op == VioOperation.Read)
                    {
                        done.Reads[i] = vio;
                        vio.SetReadTarget(destination + ((long)b * VdoConstants.BlockSize));
                        Admit(vio, Stage.ReadBlock);
                        Start(vio, batch);
                        continue;
                    }
                    var e = Volatile.Read(ref _epoch);
                    vio.Epoch = e;
                    vio.EpochOpen = true;
                    Interlocked.Increment(ref _epochCounts[e]);
                    if (op == VioOperation.Write)
                    {
                        source.Slice(b * VdoConstants.BlockSize, VdoConstants.BlockSize).CopyTo(vio.Data);
                        if (_hashOnSubmit)
                        {
                            Name(vio); // Pipeline:HashOnSubmit: no hash block in the graph
                            Admit(vio, Stage.Lookup);
                        }
                        else
                        {
                            Admit(vio, Stage.Name);
                        }
                        Start(vio, batch);
                    }
                    else
                    {
                        Admit(vio, Stage.Lookup);
                        Start(vio, batch);
                    }
                }
                if (batch is { Count: > 0 })
                    _driver.StartBatch(batch);
            }
            catch when (op == VioOperation.Read)
            {
                // Not expected (a request's failure completes it with an error): reads set going
                // must not write to the caller's buffer once it is unpinned.
                foreach (var started in done.Reads)
                    started?.SetReadTarget(null);
                throw;
            }
            finally
            {
                _driver.ExitRunner(runner, endTurn: !done.IsDone); // before waiting for requests others carry on (then the line gets the slot at once)
                _gate.ExitReadLock();
            }
            done.Wait();
            if (op == VioOperation.Read)
            {
                for (var i = 0; i < n; i++)
                {
                    var vio = done.Reads[i]!;
                    done.Reads[i] = null;
                    vio.SetReadTarget(null); // the block is in the caller's buffer already
                    _pool.Release(vio);
                }
            }
            if (done.Error is { } error)
            {
                done.Error = null;
                throw error is OutOfSpaceException or CorruptMetadataException or ReadOnlyVolumeException or DataChecksumException
                    ? error
                    : new IOException($"request failed: {error.Message}", error);
            }
        }
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
            _driver.StartBatch(batch!);
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

    /// <summary>Message passing posts a new request to its first block; structure locking runs it on the caller's thread (it carries itself).</summary>
    private void Start(DataVio vio, List<DataVio>? batch)
    {
        if (batch is not null)
        {
            batch.Add(vio); // the batched variant: run when the batch is full or the window is in
            if (batch.Count == _driver.BatchSize)
                _driver.StartBatch(batch);
        }
        else
        {
            _driver.Start(vio);
        }
    }

    private void Acknowledge(DataVio vio)
    {
        if (vio.Acknowledged)
            return;
        vio.Acknowledged = true;
        vio.Completion?.Acknowledge(vio, vio.Error);
    }

    private void Complete(DataVio vio)
    {
        CloseEpoch(vio);
        var read = vio.Operation == VioOperation.Read;
        var completion = vio.Completion;
        var acknowledged = vio.Acknowledged;
        if (!read)
        {
            if (vio.Error is { } error && acknowledged)
            {
                LostAcknowledgedWrites = true; // no later flush may report success
                Failed(error); // acknowledged writes that fail leave the volume read-only
            }
            vio.Completion = null;
            _pool.Release(vio);
        }
        if (!acknowledged)
        {
            // A released request may be reused at once: tell the caller last, through the saved completion.
            completion?.Acknowledge(vio, vio.Error);
        }
    }

    /// <summary>Records the failure and returns where <paramref name="vio"/> unwinds (stage <paramref name="from"/> failed, in <paramref name="slot"/>).</summary>
    private Stage Fail(DataVio vio, Exception e, Stage from, int slot)
    {
        vio.Error ??= e;
        if (vio.Operation == VioOperation.Read && e is not CorruptMetadataException)
            return vio.HoldsLogicalLock ? Stage.AbortLogical : Stage.Done; // a data read error fails that read only (as inline)
        if (e is IOException && !vio.Acknowledged && from is Stage.WriteData or Stage.Verify)
        {
            // Its own data write (or the read of a dedupe candidate) failed before anything refers
            // to the block: that write fails, the pool stays writable (as inline). Duplicates
            // already acknowledged on it fail the pool in Complete.
            LogMessages.DataWriteFailed(_z.Hooks.Logger, vio.Lbn, e.Message);
            if (vio.Allocation != 0 && !vio.Pinned)
                return Stage.AbortAllocation;
        }
        else
        {
            Failed(e);
        }
        if (vio.CoFragments.Count > 0)
        {
            // The first fragment of a packed block failed before sending the others on: they fail too.
            foreach (var f in vio.CoFragments)
                Dispatch(f, from, slot, Fail(f, e, from, slot));
            vio.CoFragments.Clear();
        }
        if (vio.Operation == VioOperation.Read)
            return vio.HoldsLogicalLock ? Stage.AbortLogical : Stage.Done;
        if (vio.Pinned)
            return Stage.AbortPin; // then the hash and logical locks
        if (vio.HoldsHashLock || vio.HintStale)
            return Stage.AbortHash;
        return vio.HoldsLogicalLock ? Stage.AbortLogical : Stage.Done;
    }

    private void CloseEpoch(DataVio vio)
    {
        if (!vio.EpochOpen)
            return;
        vio.EpochOpen = false;
        if (Interlocked.Decrement(ref _epochCounts[vio.Epoch]) == 0)
            _epochDrained.Set();
    }

    // ---- Flush and quiescence ------------------------------------------------------------

    /// <summary>Makes every write acknowledged before the call durable (I5): VDO's flush generations.</summary>
    public void Flush() => Flush(throwOnFailure: true);

    private void Flush(bool throwOnFailure)
    {
        lock (_flushLock)
        {
            _z.Counters.FlushesIn++;
            var old = _epoch;
            Volatile.Write(ref _epoch, old ^ 1);
            Interlocked.Increment(ref _eager);
            try
            {
                PostToken(TokenKind.FlushPacker);
                while (true)
                {
                    _epochDrained.Reset();
                    if (Interlocked.Read(ref _epochCounts[old]) == 0)
                        break;
                    _driver.HelpWhileWaiting();
                    _epochDrained.Wait(TimeSpan.FromMilliseconds(50));
                    PostToken(TokenKind.FlushPacker); // a waiter's agent may have entered the packer since
                }
                CommitJournal();
                if (throwOnFailure && Volatile.Read(ref _failure) is { } failure)
                    throw new ReadOnlyVolumeException($"flush failed: the volume failed ({failure.Message}); writes acknowledged since the last flush may be lost");
            }
            finally
            {
                Interlocked.Decrement(ref _eager);
            }
        }
    }

    private Exception? _failure;

    /// <summary>True once a write that was already acknowledged failed: its data is lost, so no flush may succeed.</summary>
    public bool LostAcknowledgedWrites { get; private set; }

    private void Failed(Exception e)
    {
        if (e is not (OutOfSpaceException or ArgumentException))
            Interlocked.CompareExchange(ref _failure, e, null);
        _onFailure(e);
    }

    /// <summary>
    /// Waits for a journal commit that started after this call: a commit token that was already
    /// queued (or running) does not count, because entries appended after it began are not in it.
    /// </summary>
    private void CommitJournal()
    {
        var target = Interlocked.Increment(ref _commitRequests);
        while (true)
        {
            _committed.Reset();
            if (Interlocked.Read(ref _commits) >= target)
                return;
            PostToken(TokenKind.Commit);
            _driver.HelpWhileWaiting();
            _committed.Wait(TimeSpan.FromMilliseconds(50));
        }
    }

    private long _commitRequests;

    /// <summary>
    /// Runs <paramref name="action"/> with the pipeline empty and every zone idle: no admission, no
    /// request in flight, the journal committed and its changes applied (statistics, check,
    /// checkpoint, close).
    /// </summary>
    public void Quiesce(Action action)
    {
        _gate.EnterWriteLock();
        Interlocked.Increment(ref _eager);
        try
        {
            Flush(throwOnFailure: false); // a failed volume can still be inspected and closed
            var spin = new SpinWait();
            while (_pool.InUse > 0)
            {
                PostToken(TokenKind.FlushPacker);
                spin.SpinOnce();
                if (spin.Count > 100)
                    Thread.Sleep(1);
            }
            CommitJournal();
            Barrier();
            Barrier(); // a checkpoint's parts come back to the journal: let them land too
            _z.JournalZone.Sink = null;
            try
            {
                _physicalInbox.DrainAll();
                action();
            }
            finally
            {
                _z.JournalZone.Sink = _physicalInbox;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _eager);
            _gate.ExitWriteLock();
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> on a consistent view of the structures (statistics). Inline:
    /// under its one lock, with the durable reference changes applied; requests in flight stay
    /// where they are (a write waiting in the packer holds its provisional block), as the figures
    /// of a running volume do, and nobody waits for a flush. Other drivers quiesce.
    /// </summary>
    public void Snapshot(Action action) => _driver.Snapshot(action);

    private void Barrier() => _driver.Barrier();

    /// <summary>Posts a control token to zone <paramref name="index"/> of its kind's home (one token object per kind: its stage never changes).</summary>
    private void PostToken(TokenKind kind, int index = 0)
    {
        if (_driver.PostToken(kind, index))
            Interlocked.Increment(ref _handoffs);
    }

    /// <summary>Posts a token to every zone of its kind's home (checkpoint parts).</summary>
    private void PostTokenToAll(TokenKind kind)
    {
        for (var i = 0; i < _kindCount[(int)TokenHome(kind)]; i++)
            PostToken(kind, i);
    }

    /// <summary>The zone kind a token runs in.</summary>
    private Zone TokenHome(TokenKind kind)
    {
        return kind switch
        {
            TokenKind.FlushPacker or TokenKind.PushUrgent or TokenKind.Pressure => _compression ? Zone.Packer : Zone.Journal,
            TokenKind.DrainInbox or TokenKind.CheckpointPhysical => Zone.Physical,
            TokenKind.CheckpointLogical => Zone.Logical,
            _ => Zone.Journal, // Commit, CheckpointPartDone; a Barrier is posted to every block directly
        };
    }

    private void RunToken(TokenKind kind, Zone zone, int index)
    {
        try
        {
            switch (kind)
            {
                case TokenKind.FlushPacker when zone == Zone.Packer:
                    _z.Packer.CloseAll(_closed);
                    WriteClosedBins();
                    break;
                case TokenKind.PushUrgent when zone == Zone.Packer:
                    PushUrgent();
                    break;
                case TokenKind.Pressure when zone == Zone.Packer:
                    if (_z.Packer.CloseFullest(_closed))
                        WriteClosedBins();
                    break;
                case TokenKind.Commit:
                    // Only requests made before this commit began are answered by it.
                    var answered = Interlocked.Read(ref _commitRequests);
                    try
                    {
                        _z.JournalZone.Commit();
                    }
                    catch (Exception e)
                    {
                        Failed(e); // recorded before the flush is answered, so the flush sees it and fails
                    }
                    finally
                    {
                        // A failed commit still answers (the failure is recorded and the flush reports it).
                        if (answered > Interlocked.Read(ref _commits))
                            Interlocked.Exchange(ref _commits, answered);
                        _committed.Set();
                    }
                    break;
                case TokenKind.DrainInbox:
                    _physicalInbox.Drain(index);
                    break;
                case TokenKind.CheckpointLogical:
                    // This zone's pages, then its root entries (each names a page just written), and its count.
                    _z.BlockMap.WriteDirtyPages(index);
                    _z.BlockMap.CaptureRoot(index, _rootImage);
                    _usedAtCheckpoint[index] = _usedDelta[index];
                    PostToken(TokenKind.CheckpointPartDone);
                    break;
                case TokenKind.CheckpointPhysical:
                    _physicalInbox.Drain(index);
                    _z.Depot.WriteJournals(index);
                    PostToken(TokenKind.CheckpointPartDone);
                    break;
                case TokenKind.CheckpointPartDone:
                    if (++_checkpointParts == _logicalZoneCount + _physicalZoneCount)
                    {
                        if (Volatile.Read(ref _failure) is null)
                            FinishCheckpoint();
                        else
                            ReleaseJournalParked();
                    }
                    break;
            }
        }
        catch (Exception e)
        {
            Failed(e);
            switch (kind)
            {
                case TokenKind.CheckpointLogical or TokenKind.CheckpointPhysical:
                    PostToken(TokenKind.CheckpointPartDone); // the checkpoint ends (failed): parked appends must not wait forever
                    break;
                case TokenKind.CheckpointPartDone:
                    ReleaseJournalParked();
                    break;
            }
        }
    }

    /// <summary>What the graph holds right now (diagnostics: queue depths, parked requests, flush generations).</summary>
    internal string DescribeState()
    {
        try
        {
            return DescribeStateUnsafe();
        }
        catch (Exception e)
        {
            return $"state unreadable while requests move: {e.Message}";
        }
    }

    private string DescribeStateUnsafe() =>
        $"inUse={_pool.InUse} queues=[{_driver.Queues}] epoch={_epoch} epochCounts={_epochCounts[0]}/{_epochCounts[1]} " +
        $"eager={_eager} checkpointing={_checkpointing} parts={_checkpointParts} journalParked={_journalParked.Count} durableParked={_durableParked.Count} " +
        $"pageParked={_logical.Sum(l => l.PageParked.Count)} logicalLocks={_logical.Sum(l => l.Locks.Count)} packerWaiting={_z.Packer.Waiting} failure={_failure?.Message ?? "none"} " +
        $"commits={_commits} hasRoom={_z.Journal.HasRoom} blocksInUse={_z.Journal.BlocksInUse}";

    /// <summary>Called by the pool when it runs dry: the packer gives up its fullest bin (I8).</summary>
    internal void RelievePressure() => PostToken(TokenKind.Pressure);

    // ---- Checkpoint while running ----------------------------------------------------------

    /// <summary>
    /// The journal ring is three-quarters full: reclaim it (I6) without stopping. The journal
    /// commits and starts a new block at point C; the logical zone writes its dirty pages and the
    /// physical zone its slab journals, each when its queue reaches the token - after every
    /// request before C and before any after it (FIFO) - then the journal flushes, moves the
    /// replay start to C and writes the superblock. Appends that would overrun the ring wait.
    /// </summary>
    private void StartCheckpointIfNeeded(bool force)
    {
        if (_checkpointing || !(force || _z.Journal.NeedsCheckpoint))
            return;
        _checkpointParts = 0;
        lock (_z.JournalZone.SyncRoot)
        {
            _checkpointSequence = _z.Journal.BeginCheckpoint();
            _z.JournalZone.ApplyDurable();
        }
        _checkpointing = true;
        // Sync writes waiting for durability are durable now: they go to the logical zone before the token.
        var slot = SlotOf(Zone.Journal);
        foreach (var v in _durableParked)
            Dispatch(v, Stage.Journal, slot, Stage.Update);
        _durableParked.Clear();
        _driver.StartLogicalCheckpoint();
        PostTokenToAll(TokenKind.CheckpointPhysical);
    }

    private void FinishCheckpoint()
    {
        _z.BlockMap.WriteRoot(_rootImage); // as each logical zone saw it at its part: every page it names is written
        _z.MetadataWriter.Commit();
        _z.Device.Flush(); // also the slab-journal blocks the physical parts wrote (not through the metadata writer)
        lock (_z.JournalZone.SyncRoot)
            _z.Journal.Reclaim(_checkpointSequence);
        _z.Counters.Checkpoints++;
        _z.WriteSuperBlock(clean: false, indexSaved: false, _usedBase + _usedAtCheckpoint.Sum());
        ReleaseJournalParked();
    }

    private void ReleaseJournalParked()
    {
        _checkpointing = false;
        while (_journalParked.TryDequeue(out var vio))
            Send(vio);
    }

    /// <summary>
    /// A control message posted to a zone's block (message passing): one immutable object per
    /// kind and zone, posted as often as needed. (Structure locking queues a <c>TokenWork</c>.)
    /// </summary>
    private sealed class ControlToken(TokenKind kind, int index)
    {
        public TokenKind Kind { get; } = kind;

        /// <summary>Which zone of the token's home kind it is for.</summary>
        public int Index { get; } = index;
    }

    /// <summary>The caller's side of a batch of requests: counts acknowledgements, keeps the first error.</summary>
    private sealed class BatchCompletion : IVioCompletion
    {
        // One per caller thread (t_completion). A caller on a thread-pool thread waits on a Task
        // instead of the event: only a blocking wait on a Task makes the thread pool add a thread
        // at once, and the Dataflow blocks that acknowledge these requests need thread-pool
        // threads (see ConcurrentDataVioPool.Acquire). Other callers (FUSE, bench threads) keep
        // the event, which allocates nothing per request.
        private readonly bool _onThreadPool = Thread.CurrentThread.IsThreadPoolThread;
        private readonly ManualResetEventSlim _done = new(false);
        private TaskCompletionSource? _doneTask;
        private int _remaining;

        public DataVio?[] Reads { get; } = new DataVio?[MaxWindow];

        public Exception? Error { get; set; }

        public void Start(int count)
        {
            if (_onThreadPool)
                _doneTask = new TaskCompletionSource();
            else
                _done.Reset();
            Volatile.Write(ref _remaining, count);
        }

        public void Acknowledge(DataVio vio, Exception? error)
        {
            if (error is not null)
                Error ??= error;
            if (Interlocked.Decrement(ref _remaining) == 0)
                Signal();
        }

        /// <summary>True when every request of the window is acknowledged.</summary>
        public bool IsDone => Volatile.Read(ref _remaining) == 0;

        /// <summary>The window ends early: <paramref name="missing"/> of the requests given to <see cref="Start"/> are not coming.</summary>
        public void EndEarly(int missing)
        {
            if (Interlocked.Add(ref _remaining, -missing) == 0)
                Signal();
        }

        private void Signal()
        {
            if (_doneTask is { } task)
                task.SetResult();
            else
                _done.Set();
        }

        public void Wait()
        {
            if (_doneTask is { } task)
                task.Task.Wait();
            else
                _done.Wait();
        }
    }

    /// <summary>
    /// The physical zones' inboxes: durable reference changes in journal order (from the journal,
    /// under its lock) and group seals, each to the zone of its block. One drain token at a time
    /// is in each physical zone's queue.
    /// </summary>
    private sealed class PhysicalInbox : IReferenceChangeSink
    {
        private readonly ZonedScheduler _owner;
        private readonly Box[] _boxes;

        public PhysicalInbox(ZonedScheduler owner, int zones)
        {
            _owner = owner;
            _boxes = [.. Enumerable.Range(0, zones).Select(_ => new Box())];
        }

        public void Add(in ReferenceChange change)
        {
            var box = _boxes[_owner._z.Depot.ZoneOf(change.Pbn)];
            lock (box.Lock)
                box.Incoming.Add(new InboxItem(change, Seal: false));
            box.Added = true;
        }

        public void AddSeal(long pbn, int unused)
        {
            var zone = _owner._z.Depot.ZoneOf(pbn);
            var box = _boxes[zone];
            lock (box.Lock)
                box.Incoming.Add(new InboxItem(new ReferenceChange(0, pbn, SlabJournalOperation.Increment, unused), Seal: true));
            Publish(zone);
        }

        /// <summary>Called by the journal after a run of adds (under its lock): wakes each zone that received some.</summary>
        public void Publish()
        {
            for (var z = 0; z < _boxes.Length; z++)
            {
                if (_boxes[z].Added)
                {
                    _boxes[z].Added = false;
                    Publish(z);
                }
            }
        }

        private void Publish(int zone)
        {
            if (Interlocked.Exchange(ref _boxes[zone].Posted, 1) == 0)
                _owner.PostToken(TokenKind.DrainInbox, zone);
        }

        /// <summary>Applies what zone <paramref name="zone"/> received, if anything (structure locking: before each of its stages).</summary>
        public void DrainIfPending(int zone)
        {
            if (Volatile.Read(ref _boxes[zone].Posted) != 0)
                Drain(zone);
        }

        /// <summary>Applies every zone's changes (a quiet volume).</summary>
        public void DrainAll()
        {
            for (var z = 0; z < _boxes.Length; z++)
                Drain(z);
        }

        /// <summary>Applies everything physical zone <paramref name="zone"/> received so far (its owner, or a quiet volume).</summary>
        public void Drain(int zone)
        {
            var box = _boxes[zone];
            Volatile.Write(ref box.Posted, 0);
            lock (box.Lock)
                (box.Incoming, box.Draining) = (box.Draining, box.Incoming);
            var depot = _owner._z.Depot;
            try
            {
                foreach (var item in box.Draining)
                {
                    var c = item.Change;
                    if (item.Seal)
                        depot.Seal(c.Pbn, c.Release);
                    else
                        depot.Log(c.Operation, c.Pbn, c.Key, c.Release);
                }
            }
            finally
            {
                box.Draining.Clear(); // never applied twice, even when a slab-journal write fails part-way
            }
            if (!depot.TryTakeSlabToWrite(zone, out var slab))
                return;
            // Counts say exactly what the slab journals say (changes apply only when logged): no journal commit needed.
            do
                depot.WriteRefCounts(slab, _owner._z.MetadataWriter);
            while (depot.TryTakeSlabToWrite(zone, out slab));
            _owner._z.MetadataWriter.CommitDurable();
        }

        private sealed class Box
        {
            public readonly Lock Lock = new();
            public List<InboxItem> Incoming = new(1024);
            public List<InboxItem> Draining = new(1024);
            public int Posted;
            public bool Added; // touched only under the journal's lock
        }

        private readonly record struct InboxItem(ReferenceChange Change, bool Seal);
    }
}
