using System.Runtime.ExceptionServices;

namespace DataflowVdo.Storage;

/// <summary>
/// One piece of device work at a time that runs on the thread pool beside its owner, as dm-vdo's
/// structures hand their block writes to the bio layer and carry on: the owner <see cref="Start"/>s
/// it and goes on, and later <see cref="Wait"/>s for it. A piece the thread pool has not started
/// yet is run by the waiter itself (a pool whose threads all wait here would otherwise wait for
/// itself), so a wait never depends on a free thread. The work's error is kept and thrown by
/// the owner's next <see cref="Wait"/>, and by every one after it: nothing may be written after a
/// failed piece. Allocates nothing per piece. One owner: <see cref="Start"/> and
/// <see cref="Wait"/> are not called concurrently.
/// </summary>
public sealed class BackgroundWrite : IThreadPoolWorkItem
{
    private const int Idle = 0, Queued = 1, Running = 2;

    private readonly Action _work;
    private readonly ManualResetEventSlim _idle = new(true);
    private int _state;
    private Exception? _failure;

    /// <param name="work">The device work; it reads what the owner handed over before <see cref="Start"/>.</param>
    public BackgroundWrite(Action work) => _work = work;

    /// <summary>Hands the work to the thread pool. Call only after <see cref="Wait"/> (or <see cref="WaitQuietly"/>) returned.</summary>
    public void Start()
    {
        _idle.Reset();
        Volatile.Write(ref _state, Queued);
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>Waits until no work is out (running it here if no thread started it); throws the error of any piece that failed.</summary>
    public void Wait()
    {
        WaitQuietly();
        if (_failure is { } failure)
            ExceptionDispatchInfo.Throw(failure);
    }

    /// <summary>Waits until no work is out, without throwing its error (closing the device: nothing may be writing to it then).</summary>
    public void WaitQuietly()
    {
        if (Interlocked.CompareExchange(ref _state, Running, Queued) == Queued)
            Run();
        _idle.Wait();
    }

    void IThreadPoolWorkItem.Execute()
    {
        if (Interlocked.CompareExchange(ref _state, Running, Queued) == Queued)
            Run();
    }

    private void Run()
    {
        try
        {
            _work();
        }
        catch (Exception e)
        {
            _failure = e;
        }
        finally
        {
            Volatile.Write(ref _state, Idle);
            _idle.Set();
        }
    }
}
