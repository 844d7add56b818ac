using DataflowVdo.Blocks;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The bounded pool of requests (VDO: 2048 data_vios). Requests are created lazily up to the
/// bound and then recycled, so memory is bounded (I8) and steady state allocates nothing.
/// Only the owner of the volume's lock uses it in the inline scheme.
/// </summary>
public sealed class DataVioPool(int capacity)
{
    private readonly Stack<DataVio> _free = new(capacity);
    private int _created;

    /// <summary>Most requests that can exist.</summary>
    public int Capacity => capacity;

    /// <summary>Requests currently handed out.</summary>
    public int InUse => _created - _free.Count;

    /// <summary>Takes a request, or returns false when all are in use.</summary>
    public bool TryAcquire(out DataVio vio)
    {
        if (_free.TryPop(out vio!))
            return true;
        if (_created < capacity)
        {
            _created++;
            vio = new DataVio();
            return true;
        }
        return false;
    }

    /// <summary>Returns a request.</summary>
    public void Release(DataVio vio) => _free.Push(vio);
}
