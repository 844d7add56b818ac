using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using DataflowVdo.Blocks;
using DataflowVdo.Blocks.Stages;
using DataflowVdo.Config;
using Zone = DataflowVdo.Blocks.Stages.ZoneKind;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The MessagePassing driver (VDO's scheme): one <see cref="ActionBlock{T}"/> per zone
/// (parallelism 1) and per worker pool, or one block for the zones of every kind that
/// <c>Pipeline:Executors</c> gives the same name; a request runs its steps while they belong to
/// the block it is in, then is posted to the block of its next stage.
/// </summary>
internal sealed partial class ZonedScheduler
{
    private sealed class MessagePassingDriver : SchemeDriver
    {
        // Distinct blocks, and per slot: its block (null when the configuration does not use the
        // slot's kind), whether several threads run it, its parallelism.
        private readonly List<ActionBlock<object>> _distinct = [];
        private readonly ActionBlock<object>?[] _blockOf;
        private readonly bool[] _shared;
        private readonly bool[] _parallel;
        private readonly int[] _parallelism;
        private readonly ActionBlock<object>? _packer;
        private readonly ActionBlock<object>? _journal;

        // One immutable message per token kind and zone (a grouped block learns the zone from it).
        private readonly ControlToken[][] _tokens;
        private readonly ControlToken _barrier = new(TokenKind.Barrier, 0);

        // Pipeline:MessageBatch: per slot the index of its block in _distinct, and per block its
        // outbox (null when every request travels alone).
        private readonly int _messageBatch;
        private readonly int[] _blockIndexOf;
        private readonly Outbox?[] _outboxes;
        private readonly System.Collections.Concurrent.ConcurrentQueue<VioBatch> _spareBatches = new();

        // The outbox of the block whose message this thread runs (none on callers' threads).
        [ThreadStatic]
        private static Outbox? t_outbox;

        public MessagePassingDriver(ZonedScheduler s, PipelineOptions p)
            : base(s)
        {
            var n = s._slotCount;
            _blockOf = new ActionBlock<object>?[n];
            _shared = new bool[n];
            _parallel = new bool[n];
            _parallelism = new int[n];
            _blockIndexOf = new int[n];
            _messageBatch = p.MessageBatch;
            var executors = new Dictionary<string, (ActionBlock<object> Block, int Slots)>(StringComparer.OrdinalIgnoreCase);
            var slotsOf = new Dictionary<ActionBlock<object>, List<int>>();
            for (var slot = 0; slot < n; slot++)
            {
                var kind = s.KindOf(slot);
                var step = StepOf(p.Steps, kind);
                var options = new ExecutionDataflowBlockOptions
                {
                    MaxDegreeOfParallelism = step.Parallelism == 0 ? Environment.ProcessorCount : step.Parallelism,
                    BoundedCapacity = step.BoundedCapacity == 0 ? DataflowBlockOptions.Unbounded : step.BoundedCapacity,
                    MaxMessagesPerTask = step.BatchSize == 0 ? DataflowBlockOptions.Unbounded : step.BatchSize,
                };
                _parallelism[slot] = options.MaxDegreeOfParallelism;
                _parallel[slot] = options.MaxDegreeOfParallelism > 1;
                if (!s.Uses(kind))
                    continue;
                ActionBlock<object> block;
                if (!IsPool(kind) && p.ExecutorOf(kind.ToString()) is { } name)
                {
                    // Zones that share an executor share one single-consumer block: what each
                    // owns is still touched by one thread at a time.
                    if (!executors.TryGetValue(name, out var e))
                    {
                        var first = slot;
                        e = (new ActionBlock<object>(m => Run(m, first, grouped: true), options), 0);
                        _distinct.Add(e.Block);
                    }
                    executors[name] = (e.Block, e.Slots + 1);
                    block = e.Block;
                }
                else
                {
                    var own = slot;
                    block = new ActionBlock<object>(m => Run(m, own, grouped: false), options);
                    _distinct.Add(block);
                }
                _blockOf[slot] = block;
                if (!slotsOf.TryGetValue(block, out var list))
                    slotsOf[block] = list = [];
                list.Add(slot);
            }
            foreach (var (block, slots) in slotsOf)
            {
                foreach (var slot in slots)
                {
                    _shared[slot] = slots.Count > 1;
                    _blockIndexOf[slot] = _distinct.IndexOf(block);
                }
            }
            _outboxes = new Outbox?[_distinct.Count];
            if (_messageBatch > 1)
            {
                foreach (var (block, slots) in slotsOf)
                    _outboxes[_distinct.IndexOf(block)] = new Outbox(this, parallel: _parallel[slots[0]]);
            }
            _physicalSlotsOf = slotsOf.ToDictionary(kv => kv.Key, kv => kv.Value.Where(x => s.KindOf(x) == Zone.Physical).ToArray());
            _journalBlock = _blockOf[s.SlotOf(Zone.Journal)];
            _packerBlock = _blockOf[s.SlotOf(Zone.Packer)];
            _packer = _packerBlock;
            _journal = _journalBlock;
            _tokens = [.. Enum.GetValues<TokenKind>().Select(k => Enumerable.Range(0, s._kindCount[(int)s.TokenHome(k)]).Select(i => new ControlToken(k, i)).ToArray())];
        }

        private readonly Dictionary<ActionBlock<object>, int[]> _physicalSlotsOf;
        private readonly ActionBlock<object>? _journalBlock;
        private readonly ActionBlock<object>? _packerBlock;

        public override bool Locks => false;

        public override void Start(DataVio vio) => S.Send(vio);

        public override void Handoff(DataVio vio, int slot)
        {
            if (t_outbox is { } outbox && outbox.Driver == this)
                outbox.Add(_blockIndexOf[slot], vio);
            else
                Post(_blockOf[slot]!, vio);
        }

        public override bool PostToken(TokenKind kind, int index)
        {
            // What this block sent on before the token arrives before it, as without batching (a
            // checkpoint's logical part must follow every request appended before it).
            if (t_outbox is { } outbox && outbox.Driver == this)
                outbox.Flush();
            Post(_blockOf[S.SlotOf(S.TokenHome(kind), index)]!, _tokens[(int)kind][index]);
            return true;
        }

        public override void Barrier()
        {
            S._barrier.Reset(_distinct.Count);
            foreach (var b in _distinct)
            {
                Interlocked.Increment(ref S._handoffs);
                Post(b, _barrier);
            }
            S._barrier.Wait();
        }

        public override bool JournalBusy => _journal!.InputCount > 0;

        // The logical zones' FIFO queues order the token after every request appended before it.
        public override void StartLogicalCheckpoint() => S.PostTokenToAll(TokenKind.CheckpointLogical);

        public override bool SharedCounts(int slot) => _parallel[slot];

        public override IReadOnlyList<PipelineBlockFigures> Figures()
        {
            var list = new List<PipelineBlockFigures>(S._slotCount);
            for (var i = 0; i < S._slotCount; i++)
            {
                if (_blockOf[i] is not { } block)
                    continue;
                list.Add(new PipelineBlockFigures(S.SlotName(i), Volatile.Read(ref S._messages[i]), block.InputCount,
                    Volatile.Read(ref S._busyTicks[i]) / (double)Stopwatch.Frequency, _parallelism[i]));
            }
            return list;
        }

        public override string Queues => string.Join(",", _blockOf.Select(b => b?.InputCount ?? 0));

        public override void Dispose()
        {
            foreach (var b in _distinct)
                b.Complete();
            foreach (var b in _distinct)
                b.Completion.Wait(TimeSpan.FromSeconds(10));
        }

        private static StepOptions StepOf(StepsOptions steps, Zone kind) => kind switch
        {
            Zone.Hash => steps.Hash,
            Zone.Logical => steps.Logical,
            Zone.HashZone => steps.HashZone,
            Zone.Physical => steps.Physical,
            Zone.Verify => steps.Verify,
            Zone.Compress => steps.Compress,
            Zone.Packer => steps.Packer,
            Zone.DataWrite => steps.DataWrite,
            Zone.Read => steps.Read,
            _ => steps.Journal,
        };

        /// <summary>Runs one message of the block of <paramref name="home"/> (a grouped block: of the slot the message is for).</summary>
        private void Run(object message, int home, bool grouped)
        {
            var start = Stopwatch.GetTimestamp();
            var outbox = _outboxes[_blockIndexOf[home]];
            t_outbox = outbox;
            int slot;
            try
            {
                if (message is VioBatch batch)
                {
                    slot = RunBatch(batch, home, grouped);
                }
                else
                {
                    slot = !grouped ? home
                        : message is ControlToken token ? token.Kind == TokenKind.Barrier ? home : S.SlotOf(S.TokenHome(token.Kind), token.Index)
                        : S.SlotFor((DataVio)message);
                    RunMessage(message, slot);
                }
            }
            finally
            {
                t_outbox = null;
                outbox?.AfterMessage(idle: _blockOf[home]!.InputCount == 0);
            }
            var busy = Stopwatch.GetTimestamp() - start;
            if (_parallel[slot])
            {
                Interlocked.Increment(ref S._messages[slot]);
                Interlocked.Add(ref S._busyTicks[slot], busy);
            }
            else
            {
                // A zone's figures have one writer (its block's consumer); readers only need them roughly current.
                Volatile.Write(ref S._messages[slot], S._messages[slot] + 1);
                Volatile.Write(ref S._busyTicks[slot], S._busyTicks[slot] + busy);
            }
        }

        /// <summary>Runs each request of a batch (all bound for this block), then what follows a message of it; returns the first request's slot.</summary>
        private int RunBatch(VioBatch batch, int home, bool grouped)
        {
            var first = home;
            try
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    var vio = batch.Items[i]!;
                    batch.Items[i] = null;
                    var slot = grouped ? S.SlotFor(vio) : home;
                    if (i == 0)
                        first = slot;
                    RunSteps(vio, slot);
                }
            }
            finally
            {
                batch.Count = 0;
                _spareBatches.Enqueue(batch);
            }
            AfterMessage(_blockOf[first]!);
            return first;
        }

        private void RunMessage(object message, int slot)
        {
            var block = _blockOf[slot]!;
            if (message is ControlToken token)
            {
                if (token.Kind == TokenKind.Barrier)
                    RunBarrier(block);
                else
                    S.RunToken(token.Kind, S.KindOf(slot), token.Index);
            }
            else
            {
                RunSteps((DataVio)message, slot);
            }
            AfterMessage(block);
        }

        /// <summary>What follows any message of the journal's or the packer's block.</summary>
        private void AfterMessage(ActionBlock<object> block)
        {
            if (block == _journalBlock)
            {
                if (S._sync)
                    S.AfterJournalMessage();
                // Only now: the request just appended was sent on first, so the checkpoint's tokens
                // reach the logical zone after every request whose entry precedes the checkpoint.
                S.StartCheckpointIfNeeded(force: false);
            }
            if (S._sync && block == _packerBlock && _packer!.InputCount == 0)
                S.CloseBinsWhenIdle(); // Sync writes wait for durability: pack what arrived together, hold nothing
        }

        /// <summary>Every message posted to this block before the barrier has run: its physical zones apply their inboxes, and it signals.</summary>
        private void RunBarrier(ActionBlock<object> block)
        {
            try
            {
                foreach (var slot in _physicalSlotsOf[block])
                    S._physicalInbox.Drain(S._slotIndex[slot]);
            }
            catch (Exception e)
            {
                S.Failed(e);
            }
            finally
            {
                S._barrier.Signal();
            }
        }

        private void RunSteps(DataVio vio, int slot)
        {
            var block = _blockOf[slot];
            for (var steps = 1; ; steps++)
            {
                var next = S.Advance(vio, slot, out var to);
                if (next is Stage.Parked or Stage.Done)
                    break;
                // VDO runs the next step in place when its queue is empty; a block that several
                // zones share (an executor) runs the request on through them up to
                // Pipeline:StepsPerRequeue steps even when others wait: that is what grouping is for.
                if (_blockOf[to] == block && (block!.InputCount == 0 || (_shared[to] && steps < S._stepsPerRequeue)))
                {
                    Interlocked.Increment(ref S._skipped);
                    if (to != slot && S.KindOf(to) == Zone.Physical)
                        DrainBeforeStep(to);
                    slot = to;
                    continue;
                }
                S.SendTo(vio, to);
                break;
            }
        }

        /// <summary>
        /// A request enters a physical zone of this block ahead of the drain token queued behind
        /// other messages: the zone applies the journal's reference changes first, as a token
        /// would have before it (and as the lock drivers do before every physical step).
        /// </summary>
        private void DrainBeforeStep(int slot)
        {
            try
            {
                S._physicalInbox.DrainIfPending(S._slotIndex[slot]);
            }
            catch (Exception e)
            {
                S.Failed(e); // the step sees the failure and unwinds the request
            }
        }

        /// <summary>Posts a batch: one handoff (each request was counted as one when sent on).</summary>
        private void PostBatch(int target, VioBatch batch)
        {
            Interlocked.Add(ref S._handoffs, 1 - batch.Count);
            Post(_distinct[target], batch);
        }

        private VioBatch RentBatch() => _spareBatches.TryDequeue(out var b) ? b : new VioBatch(_messageBatch);

        /// <summary>Several requests bound for one block, posted as one message (pooled).</summary>
        private sealed class VioBatch(int capacity)
        {
            public DataVio?[] Items { get; } = new DataVio?[capacity];

            public int Count { get; set; }
        }

        /// <summary>
        /// What one block sends on, by destination block, until it posts it: a destination's batch
        /// goes when full; all of them when the block's queue is empty after a message, after
        /// <c>Pipeline:MessageBatch</c> messages of its own (no request waits longer), or before a
        /// token leaves it. A worker pool's outbox is shared by its threads under a lock: whichever
        /// finds the queue empty posts what the others left.
        /// </summary>
        private sealed class Outbox(MessagePassingDriver driver, bool parallel)
        {
            private readonly VioBatch?[] _pending = new VioBatch?[driver._distinct.Count];
            private readonly List<int> _touched = new(driver._distinct.Count);
            private readonly Lock? _lock = parallel ? new Lock() : null;
            private int _held;

            public MessagePassingDriver Driver { get; } = driver;

            public void Add(int target, DataVio vio)
            {
                _lock?.Enter();
                try
                {
                    var batch = _pending[target];
                    if (batch is null)
                    {
                        _pending[target] = batch = Driver.RentBatch();
                        _touched.Add(target);
                    }
                    batch.Items[batch.Count++] = vio;
                    if (batch.Count == batch.Items.Length)
                    {
                        _pending[target] = null;
                        _touched.Remove(target);
                        Driver.PostBatch(target, batch);
                    }
                }
                finally
                {
                    _lock?.Exit();
                }
            }

            public void AfterMessage(bool idle)
            {
                _lock?.Enter();
                try
                {
                    if (_touched.Count > 0 && (idle || ++_held >= Driver._messageBatch))
                        FlushHeld();
                }
                finally
                {
                    _lock?.Exit();
                }
            }

            public void Flush()
            {
                _lock?.Enter();
                try
                {
                    FlushHeld();
                }
                finally
                {
                    _lock?.Exit();
                }
            }

            private void FlushHeld()
            {
                foreach (var target in _touched)
                {
                    var batch = _pending[target]!;
                    _pending[target] = null;
                    if (batch.Count == 1)
                    {
                        // One request alone travels as itself.
                        var vio = batch.Items[0]!;
                        batch.Items[0] = null;
                        batch.Count = 0;
                        Driver._spareBatches.Enqueue(batch);
                        Post(Driver._distinct[target], vio);
                    }
                    else
                    {
                        Driver.PostBatch(target, batch);
                    }
                }
                _touched.Clear();
                _held = 0;
            }
        }

        private static void Post(ActionBlock<object> block, object message)
        {
            // Only worker pools may be bounded (zones are validated unbounded): wait for room there.
            var spin = new SpinWait();
            while (!block.Post(message))
                spin.SpinOnce();
        }
    }
}
