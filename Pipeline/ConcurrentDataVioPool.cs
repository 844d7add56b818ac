using System.Diagnostics.CodeAnalysis;
using DataflowVdo.Blocks;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The bounded request pool shared by many callers (message-passing scheme): requests are
/// created lazily up to the bound, then recycled; a caller that finds it empty asks the packer to
/// give up a bin and waits (back-pressure, I8).
/// </summary>
internal sealed class ConcurrentDataVioPool(int capacity)
{
    private readonly Stack<DataVio> _free = new(capacity);
    private readonly object _lock = new();
    private readonly SemaphoreSlim _available = new(capacity); // free requests plus those not created yet
    private int _created;

    /// <summary>Requests currently handed out.</summary>
    public int InUse
    {
        get
        {
            lock (_lock)
                return _created - _free.Count;
        }
    }

    /// <summary>Takes a request if one is free (or may still be made), without waiting.</summary>
    public bool TryAcquire([NotNullWhen(true)] out DataVio? vio)
    {
        vio = _available.Wait(0) ? Take() : null;
        return vio is not null;
    }

    /// <summary>Takes a request, waiting for one when all are in use.</summary>
    public DataVio Acquire(ZonedScheduler scheduler)
    {
        if (!_available.Wait(0))
        {
            // Wait through a Task, not Monitor.Wait: a caller on a thread-pool thread (Task.Run,
            // async code) blocks that thread, and the requests it waits for can only move when the
            // Dataflow blocks get thread-pool threads. Only a blocking wait on a Task tells the
            // pool to add a thread at once; a monitor wait left the pool starved until its
            // starvation heuristic added threads, one every half second or so (4 callers of
            // 48-block writes took 3-4 s instead of 0.1 s; every caller's vios sat unrun in the
            // hash block's queue meanwhile). Waiters are woken one per release, in order.
            do
                scheduler.RelievePressure(); // again after each 10 ms: bins may have filled since
            while (!_available.WaitAsync(10).GetAwaiter().GetResult());
        }
        return Take();
    }

    /// <summary>Pops a free request or makes one; the caller holds a permit of <see cref="_available"/>.</summary>
    private DataVio Take()
    {
        lock (_lock)
        {
            if (_free.TryPop(out var vio))
                return vio;
            _created++; // holding a permit: fewer than capacity are handed out, so this one may be made
            return new DataVio();
        }
    }

    /// <summary>Returns a request.</summary>
    public void Release(DataVio vio)
    {
        lock (_lock)
            _free.Push(vio);
        _available.Release();
    }
}
