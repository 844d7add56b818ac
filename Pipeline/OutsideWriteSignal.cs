namespace DataflowVdo.Pipeline;

/// <summary>
/// Lets an inline caller that cannot go on wait until a caller writing data outside the volume's
/// lock completes, instead of spinning: <c>TryStart</c> refuses a block while its LBN (or a
/// duplicate of it) is written outside the lock, or while such writes (and verifications of
/// duplicates) hold every request of the pool; a closing volume waits for them all. With 16 requests of 1 MiB in flight against a pool of 2,048 requests, the callers that
/// found the pool taken yielded ~67,000 times a second; waiting here instead, the machine was
/// 0.89x as busy at the same throughput (perf/README.md).
/// </summary>
internal sealed class OutsideWriteSignal
{
    private readonly object _monitor = new();
    private long _completions;
    private int _waiters;

    /// <summary>Completions so far; read under the volume's lock when a caller finds it cannot go on.</summary>
    public long Generation => Interlocked.Read(ref _completions);

    /// <summary>Called (after the volume's lock is released) once a caller has completed its outside writes.</summary>
    public void Completed()
    {
        Interlocked.Increment(ref _completions); // a full fence: a waiter registered before it is seen below
        if (Volatile.Read(ref _waiters) == 0)
            return;
        lock (_monitor)
            Monitor.PulseAll(_monitor);
    }

    /// <summary>
    /// Waits until a completion after <paramref name="generation"/>: one is always coming, since
    /// the caller found a write outside the lock that had not completed when it read the
    /// generation, and none is missed (the waiter registers before it checks, and checks under
    /// the monitor that <see cref="Completed"/> pulses).
    /// </summary>
    public void WaitAfter(long generation)
    {
        Interlocked.Increment(ref _waiters);
        try
        {
            lock (_monitor)
            {
                while (Interlocked.Read(ref _completions) == generation)
                    Monitor.Wait(_monitor);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }
    }
}
