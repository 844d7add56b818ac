using DataflowVdo.Storage;

namespace DataflowVdo.Tests.Storage;

/// <summary>
/// The background runner of the recovery journal's batch writes: each piece runs exactly once,
/// its owner sees it done after a wait, and a failed piece stops every later write.
/// </summary>
public sealed class BackgroundWriteTests
{
    [Test]
    public void EveryStartedPieceRunsExactlyOnceAndIsDoneWhenTheWaitReturns()
    {
        var runs = 0;
        var writer = new BackgroundWrite(() => Interlocked.Increment(ref runs));
        for (var i = 1; i <= 2000; i++)
        {
            writer.Start();
            writer.Wait(); // the pool's thread or this one ran it, never both
            Assert.That(Volatile.Read(ref runs), Is.EqualTo(i));
        }
    }

    [Test]
    public void APieceNoThreadStartedIsRunByTheWaiter()
    {
        var ranOn = -1;
        var writer = new BackgroundWrite(() => ranOn = Environment.CurrentManagedThreadId);
        // Every thread-pool thread busy until the waiter is done: only the waiter can run the piece.
        using var release = new ManualResetEventSlim(false);
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.GetMaxThreads(out var maxWorkers, out var maxIo);
        try
        {
            Assert.That(ThreadPool.SetMaxThreads(Math.Max(Environment.ProcessorCount, workers), maxIo), Is.True);
            var blockers = Enumerable.Range(0, Math.Max(Environment.ProcessorCount, workers))
                .Select(_ => Task.Factory.StartNew(() => release.Wait(), CancellationToken.None, TaskCreationOptions.None, TaskScheduler.Default)).ToArray();
            writer.Start();
            writer.Wait();
            Assert.That(ranOn, Is.EqualTo(Environment.CurrentManagedThreadId));
            release.Set();
            Task.WaitAll(blockers);
        }
        finally
        {
            release.Set();
            ThreadPool.SetMaxThreads(maxWorkers, maxIo);
        }
    }

    [Test]
    public void AFailedPieceIsThrownByEveryLaterWaitButNotByTheQuietOne()
    {
        var writer = new BackgroundWrite(() => throw new IOException("device gone"));
        writer.Start();
        writer.WaitQuietly(); // closing: nothing writes any more, the error is not news
        Assert.Throws<IOException>(writer.Wait);
        Assert.That(() => writer.Wait(), Throws.TypeOf<IOException>().With.Message.EqualTo("device gone"));
    }
}
