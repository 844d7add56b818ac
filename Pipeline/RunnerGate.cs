using System.Diagnostics;

namespace DataflowVdo.Pipeline;

/// <summary>
/// A fair counting gate (Inline and StructureLocking): at most <c>slots</c> caller threads run
/// the pipeline's steps at once; the others wait in line, in arrival order. Why: with 32 caller
/// threads on 2 cores, callers contend for the zone locks, and <see cref="Lock"/> lets a running
/// thread take a lock ahead of its sleeping waiters (it stops that only once a waiter has starved
/// 100 ms), so 0.1% of writes waited 50-100 ms for a lock held microseconds at a time (issue 19).
/// Behind the gate the few runners are mostly on a CPU, their lock waits stay short, and the line
/// in front is first come, first served. Work no caller carries (resumed requests, tokens) runs on
/// other threads, ungated.
/// <para>
/// A slot is a turn of up to <c>quantum</c>: a runner that finishes a request within its turn may
/// take a free slot again for its next request ahead of the line (no context switch per request:
/// handing the slot over on every request cost about 12 µs of CPU per 4 KiB write, 3.7 → 6.8
/// CPU s/GB); once its turn is over, the slot it gives back goes to the first in line, and it
/// goes to the back. A caller thus waits about (callers / slots) turns. Measured (bench mixed,
/// queue depth 32, 2 cores, 50 µs turns): p99.9 170 → 7 ms Inline, 77 → 7 ms StructureLocking,
/// for 15-20% of throughput (the thread switches of the turns).
/// </para>
/// </summary>
internal sealed class RunnerGate(int slots, TimeSpan quantum)
{
    private readonly Lock _lock = new();
    private readonly Queue<Waiter> _waiters = new();
    private readonly long _quantum = (long)(quantum.TotalSeconds * Stopwatch.Frequency);
    private int _free = slots;

    // A waiter that finds a slot left free (its runner's thread went away within its turn) takes
    // it after this long, if nothing handed one over before.
    private const int RecheckMs = 10;

    [ThreadStatic]
    private static Waiter? t_waiter;

    [ThreadStatic]
    private static RunnerGate? t_inside;

    [ThreadStatic]
    private static RunnerGate? t_turnGate;

    [ThreadStatic]
    private static long t_turnEnd;

    /// <summary>Free slots and callers in line (diagnostics).</summary>
    public override string ToString()
    {
        lock (_lock)
            return $"free={_free} waiting={_waiters.Count}";
    }

    /// <summary>True when this thread holds a slot of this gate.</summary>
    public bool IsInside => ReferenceEquals(t_inside, this);

    /// <summary>Takes a slot, waiting in line for one; false (nothing to release) when this thread already holds one of this gate.</summary>
    public bool Enter()
    {
        if (ReferenceEquals(t_inside, this))
            return false;
        var now = Stopwatch.GetTimestamp();
        var inTurn = ReferenceEquals(t_turnGate, this) && now < t_turnEnd;
        Waiter w;
        List<Waiter>? granted = null;
        lock (_lock)
        {
            if (_free > 0 && (_waiters.Count == 0 || inTurn))
            {
                _free--;
                if (!inTurn)
                    StartTurn(now);
                t_inside = this;
                return true;
            }
            granted = GrantFree(); // slots left free by runners whose turn is over: the line first
            w = t_waiter ??= new Waiter();
            w.Granted = false;
            w.Reset();
            _waiters.Enqueue(w);
        }
        Release(granted);
        while (true)
        {
            // A wake proves nothing: the Set of an earlier grant, taken through the recheck below,
            // can arrive after this thread queued again (it then ran without a slot while still in
            // line, and the slot granted to it later was lost: a bench run hung with every slot
            // gone). Only Granted, read under the lock, says the slot is this thread's.
            w.Wait(RecheckMs);
            lock (_lock)
            {
                if (w.Granted)
                    break;
                if (_free > 0 && ReferenceEquals(_waiters.Peek(), w))
                {
                    _waiters.Dequeue();
                    _free--;
                    break;
                }
                w.Reset(); // a stale Set: wait again (a grant from now on sets Granted first, under this lock)
            }
        }
        StartTurn(Stopwatch.GetTimestamp());
        t_inside = this;
        return true;
    }

    /// <summary>
    /// Gives the slot back: kept free for this thread's next request while its turn lasts, else
    /// to the first in line. <paramref name="endTurn"/>: this thread will not be back soon (it
    /// waits for requests others carry on), so the slot goes to the line now.
    /// </summary>
    public void Exit(bool entered, bool endTurn = false)
    {
        if (!entered)
            return;
        t_inside = null;
        if (endTurn)
            t_turnEnd = 0;
        List<Waiter>? granted;
        lock (_lock)
        {
            _free++;
            if (_waiters.Count == 0 || Stopwatch.GetTimestamp() < t_turnEnd)
                return;
            t_turnGate = null;
            granted = GrantFree();
        }
        Release(granted);
    }

    /// <summary>Gives up the slot this thread holds, if any, before a long wait (the request pool); true when it did (<see cref="Enter"/> again after).</summary>
    public bool ExitHeld()
    {
        if (!ReferenceEquals(t_inside, this))
            return false;
        Exit(entered: true, endTurn: true);
        return true;
    }

    private void StartTurn(long now)
    {
        t_turnGate = this;
        t_turnEnd = now + _quantum;
    }

    /// <summary>Hands every free slot to the first in line (under the lock); the caller wakes them after it (this thread's list, reused: no allocation per handover).</summary>
    private List<Waiter>? GrantFree()
    {
        List<Waiter>? granted = null;
        while (_free > 0 && _waiters.TryDequeue(out var next))
        {
            _free--;
            next.Granted = true;
            if (granted is null)
            {
                granted = t_granted ??= new List<Waiter>(4);
                granted.Clear();
            }
            granted.Add(next);
        }
        return granted;
    }

    [ThreadStatic]
    private static List<Waiter>? t_granted;

    private static void Release(List<Waiter>? granted)
    {
        if (granted is null)
            return;
        foreach (var w in granted)
            w.Set();
        granted.Clear();
    }

    /// <summary>
    /// One thread's place in the line. A thread-pool thread waits on a Task (a blocking wait on a
    /// Task makes the pool add a thread at once, see <see cref="ConcurrentDataVioPool.Acquire"/>);
    /// other threads on an event, without spinning (30 spinning waiters on 2 cores would take
    /// the CPU from the runners).
    /// </summary>
    private sealed class Waiter
    {
        private readonly bool _onThreadPool = Thread.CurrentThread.IsThreadPoolThread;
        private readonly ManualResetEventSlim _event = new(false, spinCount: 0);
        private TaskCompletionSource? _task;

        /// <summary>Set under the gate's lock when a slot is handed to this waiter.</summary>
        public bool Granted;

        /// <summary>Unsignals it (under the gate's lock).</summary>
        public void Reset()
        {
            if (_onThreadPool)
                _task = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            else
                _event.Reset();
        }

        public void Set()
        {
            if (_task is { } task)
                task.TrySetResult(); // a stale Set may find a newer task, already set
            else
                _event.Set();
        }

        public bool Wait(int timeoutMs) => _task is { } task ? task.Task.Wait(timeoutMs) : _event.Wait(timeoutMs);
    }
}
