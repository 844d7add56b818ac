using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Storage;

/// <summary>
/// The write cache's ordering against writes that go around it (the file device's direct runs):
/// a device whose batch writes can be held shows that no older cached copy lands after them.
/// </summary>
public sealed class WriteCacheTests
{
    [Test]
    [CancelAfter(30_000)]
    public void AnEvictedBlockWaitsForAnOlderCopyOnItsWayBeforeItIsWrittenAroundTheCache()
    {
        var device = new HeldDevice();
        using var cache = new WriteCache(device);
        using var held = device.HoldOn(cache);
        const long Pbn = 7;
        held.Start(Pbn, Content.Random(1)); // copy A, on its way and held there
        cache.Write(Pbn, Content.Random(2)); // copy B supersedes A while A is on its way

        // The direct write's owner: evict, then write around the cache.
        var around = new Thread(() =>
        {
            cache.Evict(Pbn, 1);
            device.WriteAround(Pbn, Content.Random(3));
        });
        around.Start();
        // Give a wrong eviction (one that does not wait for A) the chance to write first; a right
        // one is still waiting when the bounded join gives up.
        around.Join(TimeSpan.FromMilliseconds(500));
        held.Release();
        around.Join();
        cache.Flush();

        Assert.That(device.Block(Pbn), Is.EqualTo(Content.Random(3)), "the write around the cache is the last to land; A and B are older");
        Assert.That(device.Writes(Pbn), Is.EqualTo(2), "A, then the write around the cache; B was dropped unwritten");
        Assert.That(cache.Cached, Is.Zero);
    }

    [Test]
    [CancelAfter(30_000)]
    public void EvictingWhatWaitsDropsItAndAFailedBatchIsReportedToTheEvicter()
    {
        var device = new HeldDevice { Fail = true };
        using var cache = new WriteCache(device);
        using var held = device.HoldOn(cache);
        held.Start(3, Content.Random(1));
        cache.Write(4, Content.Random(2)); // cached behind the held batch
        cache.Evict(4, 1); // a waiting copy is dropped at once, nothing on its way for block 4
        Assert.That(cache.Cached, Is.EqualTo(1), "block 3 is still on its way, block 4 is gone");
        Exception? seen = null;
        var evicter = new Thread(() =>
        {
            try
            {
                cache.Evict(3, 1); // on its way: waits for the batch, which fails
            }
            catch (Exception e)
            {
                seen = e;
            }
        });
        evicter.Start();
        held.Release();
        evicter.Join();
        Assert.That(seen, Is.InstanceOf<IOException>().With.Message.Contains("disk on fire"), "the evicter learns that the copy on its way never landed");
        Assert.That(device.Writes(4), Is.Zero, "an evicted copy is never written");
    }

    [Test]
    [CancelAfter(30_000)]
    public void AWriterThatFindsTheCacheFullWaitsForTheBatchOnItsWay()
    {
        // I8: the cache never grows; a writer waits for slots instead.
        const int Slots = 16;
        var device = new HeldDevice();
        using var cache = new WriteCache(device, Slots);
        using var held = device.HoldOn(cache);
        held.Start(0, Content.Random(0)); // one slot on its way, held
        for (var i = 1; i < Slots; i++)
            cache.Write(i, Content.Random(i)); // fills the other slots
        Assert.That(cache.Cached, Is.EqualTo(Slots));
        var released = false;
        var finishedAfterRelease = (bool?)null;
        var writer = new Thread(() =>
        {
            cache.Write(100, Content.Random(100)); // no free slot until the held batch is written
            finishedAfterRelease = Volatile.Read(ref released);
        });
        writer.Start();
        // Give a cache that grows the chance to take the write at once.
        writer.Join(TimeSpan.FromMilliseconds(500));
        Assert.That(cache.Cached, Is.LessThanOrEqualTo(Slots), "the cache never holds more than its slots");
        Volatile.Write(ref released, true);
        held.Release();
        writer.Join();
        Assert.That(finishedAfterRelease, Is.True, "the write waited for slots to come free");
        cache.Flush();
        Assert.That(device.Block(100), Is.EqualTo(Content.Random(100)));
        Assert.That(device.Block(Slots - 1), Is.EqualTo(Content.Random(Slots - 1)));
    }

    /// <summary>
    /// Puts one block on its way and holds it there: a flushing thread takes it as a batch (an
    /// idle cache's writer leaves a lone block for the next flush) and the device holds that
    /// batch until <see cref="Release"/>. Disposing releases it, so a failed test never hangs.
    /// </summary>
    private sealed class Held(HeldDevice device, WriteCache cache) : IDisposable
    {
        private Thread? _flusher;

        public void Start(long pbn, byte[] data)
        {
            cache.Write(pbn, data);
            _flusher = new Thread(() =>
            {
                try
                {
                    cache.Flush();
                }
                catch (IOException)
                {
                    // The failing device's batch: the tests check what the others see.
                }
            });
            _flusher.Start();
            Assert.That(device.Entered.Wait(TimeSpan.FromSeconds(10)), Is.True, "the flushing thread took the batch");
        }

        public void Release()
        {
            device.Release.Set();
            _flusher?.Join();
        }

        public void Dispose() => Release();
    }

    /// <summary>A device that holds its first batch until released and records every block write in order.</summary>
    private sealed unsafe class HeldDevice : ICacheRunWriter
    {
        private readonly Dictionary<long, byte[]> _blocks = [];
        private readonly Dictionary<long, int> _writes = [];
        private bool _held;

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public bool Fail { get; init; }

        public Held HoldOn(WriteCache cache) => new(this, cache);

        public void WriteRuns(ReadOnlySpan<CacheRun> runs, Iovec* iovecs)
        {
            if (!_held)
            {
                _held = true;
                Entered.Set();
                Release.Wait();
                if (Fail)
                    throw new IOException("disk on fire");
            }
            foreach (var run in runs)
            {
                for (var i = 0; i < run.Count; i++)
                {
                    var iov = iovecs[run.FirstIovec + i];
                    Record(run.Pbn + i, new ReadOnlySpan<byte>(iov.Base, (int)iov.Length).ToArray());
                }
            }
        }

        public void WriteAround(long pbn, byte[] data) => Record(pbn, data);

        public byte[] Block(long pbn)
        {
            lock (_blocks)
                return _blocks[pbn];
        }

        public int Writes(long pbn)
        {
            lock (_blocks)
                return _writes.GetValueOrDefault(pbn);
        }

        private void Record(long pbn, byte[] data)
        {
            lock (_blocks)
            {
                _blocks[pbn] = data;
                _writes[pbn] = _writes.GetValueOrDefault(pbn) + 1;
            }
        }
    }
}
