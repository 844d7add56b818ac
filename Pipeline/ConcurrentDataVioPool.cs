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
    private int _created;
    private int _waiting;

    /// <summary>Requests currently handed out.</summary>
    public int InUse
    {
        get
        {
            lock (_lock)
                return _created - _free.Count;
        }
    }

    /// <summary>Takes a request, waiting for one when all are in use.</summary>
    public DataVio Acquire(ZonedScheduler scheduler)
    {
        lock (_lock)
        {
            while (true)
            {
                if (_free.TryPop(out var vio))
                    return vio;
                if (_created < capacity)
                {
                    _created++;
                    return new DataVio();
                }
                _waiting++;
                scheduler.RelievePressure();
                Monitor.Wait(_lock, 10);
                _waiting--;
            }
        }
    }

    /// <summary>Returns a request.</summary>
    public void Release(DataVio vio)
    {
        lock (_lock)
        {
            _free.Push(vio);
            if (_waiting > 0)
                Monitor.Pulse(_lock);
        }
    }
}
