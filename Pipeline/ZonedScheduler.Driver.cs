using DataflowVdo.Blocks;
using DataflowVdo.Config;

namespace DataflowVdo.Pipeline;

/// <summary>
/// What a scheme decides, and nothing else: how a request gets from one stage to the next, how a
/// control token reaches its zone, and what a waiting caller may do meanwhile. The stage machine
/// (steps, routing, flush, quiesce, checkpoint) is written once in <see cref="ZonedScheduler"/>
/// and asks its one driver at each of these points; a driver keeps its own state (Dataflow
/// blocks, urgent queue, resume thread). One file per driver: <c>ZonedScheduler.MessagePassing.cs</c>,
/// <c>ZonedScheduler.Locking.cs</c>, <c>ZonedScheduler.Inline.cs</c>.
/// </summary>
internal sealed partial class ZonedScheduler
{
    private readonly SchemeDriver _driver;

    private SchemeDriver CreateDriver(PipelineOptions p) => p.Scheme switch
    {
        SchemeKind.MessagePassing => new MessagePassingDriver(this, p),
        SchemeKind.StructureLocking => new LockingDriver(this, p),
        _ => new InlineDriver(this, p),
    };

    private abstract class SchemeDriver(ZonedScheduler owner)
    {
        protected ZonedScheduler S { get; } = owner;

        /// <summary>True when a request runs its stages on the thread that carries it, under zone locks (no Dataflow blocks).</summary>
        public abstract bool Locks { get; }

        /// <summary>A caller's new request (not in a <c>Pipeline:LockBatch</c> batch): set it going.</summary>
        public abstract void Start(DataVio vio);

        /// <summary>The blocks of a large request set going at once (at most <see cref="MaxWindow"/>).</summary>
        public virtual int Window => ZonedScheduler.Window;

        /// <summary>How many of a caller's requests are set going together (<see cref="StartBatch"/>); 1: one at a time.</summary>
        public virtual int BatchSize => 1;

        /// <summary>A caller's requests collected in a batch (<see cref="BatchSize"/> &gt; 1): set them going together; the list is left empty.</summary>
        public virtual void StartBatch(List<DataVio> batch)
        {
            foreach (var vio in batch)
                Start(vio);
            batch.Clear();
        }

        /// <summary>Hands <paramref name="vio"/> on to <paramref name="slot"/>, the slot of its current stage (counted already).</summary>
        public abstract void Handoff(DataVio vio, int slot);

        /// <summary>
        /// Sends a control token to zone <paramref name="index"/> of its home kind; false when the
        /// driver does its work in place instead (no handoff: a lock driver drains a physical inbox
        /// whose zone lock this thread holds before it releases that lock).
        /// </summary>
        public abstract bool PostToken(TokenKind kind, int index);

        /// <summary>Returns once every token sent so far has run and no zone is busy (quiescing: no request is in flight).</summary>
        public abstract void Barrier();

        /// <summary>A caller waiting for a flush or a commit: run what it can to help (structure locking runs the urgent work).</summary>
        public virtual void HelpWhileWaiting()
        {
        }

        /// <summary>True while more requests are about to run journal stages (Sync: commit when none is).</summary>
        public abstract bool JournalBusy { get; }

        /// <summary>A checkpoint began: get the logical zones' part going once every earlier entry is applied.</summary>
        public abstract void StartLogicalCheckpoint();

        /// <summary>An entry was appended (journal lock held); structure locking counts it until applied.</summary>
        public virtual void CountUnapplied(DataVio vio)
        {
        }

        /// <summary>The request's entry is in the block map (logical lock held): a checkpoint waiting for it may go on.</summary>
        public virtual void Applied(DataVio vio)
        {
        }

        /// <summary>True when this thread carries <paramref name="vio"/> on itself (Inline), after its current work, instead of a handoff.</summary>
        public virtual bool TryCarry(DataVio vio) => false;

        /// <summary>True when transitions out of <paramref name="slot"/> are counted from several threads at once.</summary>
        public abstract bool SharedCounts(int slot);

        /// <summary>Per-block (or per-lock) figures so far.</summary>
        public abstract IReadOnlyList<PipelineBlockFigures> Figures();

        /// <summary>Runs <paramref name="action"/> on a consistent view of the structures (statistics).</summary>
        public virtual void Snapshot(Action action) => S.Quiesce(action);

        /// <summary>Someone waits for a request in the packer: get its bin written.</summary>
        public virtual void PushUrgentBins() => S.PostToken(TokenKind.PushUrgent);

        /// <summary>Zone-lock acquisitions so far, and those that had to wait (0 without locks).</summary>
        public virtual (long Acquisitions, long Contended) LockCounts => (0, 0);

        /// <summary>A caller is about to run its window's requests: it takes a runner's slot (Pipeline:Runners); true when it took one.</summary>
        public virtual bool EnterRunner() => false;

        /// <summary>
        /// The caller's window is set going: it gives its slot back (<paramref name="entered"/>),
        /// for good when it will wait for requests others carry on (<paramref name="endTurn"/>).
        /// </summary>
        public virtual void ExitRunner(bool entered, bool endTurn)
        {
        }

        /// <summary>Before a long wait (the request pool): gives up the slot this thread holds, if any; true when it did.</summary>
        public virtual bool LeaveRunner() => false;

        /// <summary>Takes a slot again after <see cref="LeaveRunner"/>.</summary>
        public virtual void ReturnRunner()
        {
        }

        /// <summary>Queue depths for diagnostics.</summary>
        public virtual string Queues => "";

        /// <summary>Stops the driver's own threads or blocks (the volume is closing).</summary>
        public abstract void Dispose();
    }
}
