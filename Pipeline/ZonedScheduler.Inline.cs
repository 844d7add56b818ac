using DataflowVdo.Blocks;
using DataflowVdo.Config;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The Inline driver: StructureLocking's with one lock for every zone (every zone slot gets the
/// volume's lock, and a caller's request runs as one batch), and what only it does beyond that:
/// the caller carries on the requests it sets going, work no caller carries runs on the driver's
/// own resume thread rather than the thread pool, and statistics are read under the one lock
/// without quiescing.
/// </summary>
internal sealed partial class ZonedScheduler
{
    private sealed class InlineDriver(ZonedScheduler s, PipelineOptions p) : LockingDriver(s, p, oneLock: true)
    {
        // A request another one sets going (a hash-lock waiter, the members of a packed block, the
        // next writer of an LBN, appends released by a checkpoint) is carried on by the thread that
        // set it going, once its own work is done, as one lock holder runs everything in dm-vdo's
        // single-threaded configuration; no handoff, no wait for another thread.
        [ThreadStatic]
        private static InlineDriver? t_carrier;

        [ThreadStatic]
        private static List<DataVio>? t_carried;

        // The work a caller cannot do itself (requests resumed after waiting on a lock, the
        // packer or the journal; control tokens) runs on one thread of the driver's own, or on
        // any caller between its stages. Inline never waits for the thread pool: its callers
        // (FUSE, ingest writers) may be the pool's threads, blocked, and the pool adds threads
        // slowly. The thread starts when work is posted and ends after ResumerIdle without any,
        // so that a volume abandoned without Dispose (a simulated crash) is not kept alive by it.
        private readonly AutoResetEvent _resumeReady = new(false);

        private int _resumerRunning;

        private volatile bool _stopping;

        private Thread? _resumer;

        private static readonly TimeSpan ResumerIdle = TimeSpan.FromMilliseconds(200);

        /// <summary>Makes this thread the carrier of the requests it sets going; false when it already is.</summary>
        protected override bool EnterCarrier()
        {
            if (t_carrier is not null)
                return false;
            t_carrier = this;
            return true;
        }

        /// <summary>
        /// The urgent work a carrier posts (the physical inbox's drain token, about one per write;
        /// requests it resumes) waits for it rather than waking the resume thread: through a
        /// mount with <c>Pipeline:Runners=-1</c> the wake-ups cost 0.14 thread switches and 0.3
        /// futex calls per 4 KiB write (perf/README.md).
        /// </summary>
        protected override bool RunsUrgentBeforeLeaving => ReferenceEquals(t_carrier, this);

        /// <summary>
        /// Carries on the requests this thread set going and the urgent work it posted, until
        /// neither is left, then stops carrying; requests left by a failure are requeued, and
        /// urgent work left then gets the resume thread.
        /// </summary>
        protected override void ExitCarrier(bool carrier)
        {
            if (!carrier)
                return;
            var next = 0; // the first carried request not yet set running
            var finished = false;
            try
            {
                while (true)
                {
                    while (t_carried is { } carried && next < carried.Count)
                        RunStages(carried[next++]);
                    RunUrgent(); // (inside urgent work already: the loop running it takes these too)
                    if (t_carried is not { } more || next >= more.Count)
                        break;
                }
                finished = true;
            }
            finally
            {
                t_carrier = null;
                if (t_carried is { } carried)
                {
                    for (; next < carried.Count; next++)
                        Requeue(carried[next]);
                    carried.Clear();
                }
                if (!finished && UrgentWaiting)
                    WakeUrgent();
            }
        }

        /// <summary>
        /// A 1 MiB request in one window, as the hand-written path of 89caf70 ran it: its data goes
        /// to the pool file as one 1 MiB direct write rather than four of 256 KiB, each waited for
        /// (a 1 MiB sequential FUSE write paid 3.4x the device submissions; perf/README.md).
        /// </summary>
        public override int Window => MaxWindow;

        public override bool TryCarry(DataVio vio)
        {
            if (!ReferenceEquals(t_carrier, this))
                return false;
            Interlocked.Increment(ref S._skipped);
            (t_carried ??= new List<DataVio>(Window)).Add(vio);
            return true;
        }

        /// <summary>Every resumed request goes in the urgent lane, which the resume thread and the callers run.</summary>
        protected override void Requeue(DataVio vio) => PostUrgent(StateOf(vio));

        protected override void WakeUrgent()
        {
            if (Interlocked.CompareExchange(ref _resumerRunning, 1, 0) == 0)
            {
                _resumer = new Thread(Resume) { IsBackground = true, Name = "dvdo-resume" };
                _resumer.Start();
            }
            else
                _resumeReady.Set();
        }

        /// <summary>Pushes the bin out now, holding every zone (no token needed).</summary>
        public override void PushUrgentBins() => S.PushUrgent();

        /// <summary>
        /// Under the one lock, with the durable reference changes applied; requests in flight stay
        /// where they are (a write waiting in the packer holds its provisional block), as the
        /// figures of a running volume do, and nobody waits for a flush.
        /// </summary>
        public override void Snapshot(Action action)
        {
            var gate = ZoneLock(0);
            gate.Enter();
            try
            {
                S._physicalInbox.DrainAll();
                action();
            }
            finally
            {
                gate.Exit();
            }
        }

        /// <summary>Stops the resume thread, once nothing is in flight.</summary>
        public override void Dispose()
        {
            _stopping = true;
            _resumeReady.Set();
            _resumer?.Join();
        }

        private void Resume()
        {
            while (true)
            {
                RunUrgent();
                if (_resumeReady.WaitOne(ResumerIdle) && !_stopping)
                    continue;
                Volatile.Write(ref _resumerRunning, 0);
                // Work posted after the last RunUrgent but before the flag cleared found the thread
                // running and only set the event: take it on again, or leave it to the next one started.
                if (_stopping || !UrgentWaiting || Interlocked.CompareExchange(ref _resumerRunning, 1, 0) != 0)
                    return;
            }
        }
    }
}
