using DataflowVdo.Blocks;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// One targeted test per ordering invariant: an instrumented device watches the actual write
/// and flush order while a workload runs, and each test fails if the order were broken.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class OrderingInvariantTests(SchemeCase scheme)
{
    private const int Spread = 811;

    private (Volume Volume, CrashSimulatingDevice Device, OrderingAudit Audit) Start(WritePolicy policy = WritePolicy.Async, int cachePages = 8, BlockNamer? namer = null)
    {
        const long logical = 64L * Spread + 1;
        var device = new CrashSimulatingDevice(TestPools.DeviceBlocks(slabs: 4, logicalBlocks: logical));
        var volume = Volume.Format(device, TestPools.Small(logical), TestPools.Options(scheme, o => o.Volume.WritePolicy = policy),
            new VolumeHooks { BlockMapCachePages = cachePages, Namer = namer ?? BlockNamers.XxHash128Namer });
        var audit = new OrderingAudit(device, volume.Geometry, replayFrom: 1);
        return (volume, device, audit);
    }

    private static void Workload(Volume volume, int writes, int flushEvery)
    {
        var random = new Random(11);
        for (var i = 0; i < writes; i++)
        {
            var lbn = (long)random.Next(64) * Spread;
            if (random.Next(10) == 0)
                volume.Discard(lbn);
            else
                volume.Write(lbn, Content.Of(random.Next(3), random.Next(40)));
            if (flushEvery > 0 && i % flushEvery == 0)
                volume.Flush();
        }
        volume.Flush();
    }

    [Test]
    public void I1_DataIsDurableBeforeTheJournalEntryThatMapsIt([Values(WritePolicy.Async, WritePolicy.Sync)] WritePolicy policy)
    {
        var (volume, _, audit) = Start(policy, cachePages: 1024); // no evictions: no incidental flushes
        Workload(volume, 3000, flushEvery: 0);
        volume.Dispose();
        Assert.That(audit.JournalBlocksChecked, Is.GreaterThan(10));
        Assert.That(audit.Violations.Where(v => v.StartsWith("I1", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void I1_ABlockStoredAnewAfterItsHintFailedVerificationIsWrittenBeforeItsJournalEntry([Values(WritePolicy.Async, WritePolicy.Sync)] WritePolicy policy)
    {
        // Every block gets the same name, so nearly every write finds a hint that fails the
        // byte-for-byte compare (I4) and stores its block anew: that late store's data must
        // still reach the device before a journal block maps it. Discards and overwrites free
        // blocks, so the check also covers blocks reused after being unmapped.
        var (volume, _, audit) = Start(policy, cachePages: 1024, namer: static _ => 42);
        var random = new Random(5);
        for (var i = 0; i < 2400; i++)
        {
            var lbn = (long)random.Next(48) * Spread;
            var blocks = random.Next(4) == 0 ? 8 : 1;
            var data = new byte[blocks * VdoConstants.BlockSize];
            for (var b = 0; b < blocks; b++)
                (random.Next(2) == 0 ? Content.Random(random.Next(200)) : Content.Compressible(random.Next(200))).CopyTo(data, b * VdoConstants.BlockSize);
            if (random.Next(8) == 0)
                volume.Discard(lbn);
            else
                volume.WriteBlocks(lbn, data);
        }
        volume.Flush();
        var stale = volume.GetStatistics().Counters.DedupeAdviceStale;
        volume.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(stale, Is.GreaterThan(100), "hints must fail verification");
            Assert.That(audit.ReusedDataBlocksChecked, Is.GreaterThan(0), "freed blocks must be written again");
            Assert.That(audit.Violations.Where(v => v.StartsWith("I1", StringComparison.Ordinal)), Is.Empty);
        });
    }

    [Test]
    public void I2_BlockMapPagesAreWrittenOnlyAfterTheirJournalEntriesAreDurable([Values(8, 1024)] int cachePages)
    {
        var (volume, _, audit) = Start(cachePages: cachePages);
        Workload(volume, 4000, flushEvery: 500);
        volume.Dispose();
        Assert.That(audit.PagesChecked, Is.GreaterThan(64));
        Assert.That(audit.Violations.Where(v => v.StartsWith("I2", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void I6_JournalSpaceIsReusedOnlyAfterACheckpointReleasedIt()
    {
        var (volume, _, audit) = Start(cachePages: 16);
        Workload(volume, 12000, flushEvery: 0); // ~12000 entries on a 16-block (3968-entry) ring
        var checkpoints = volume.GetStatistics().Counters.Checkpoints;
        volume.Dispose();
        Assert.That(checkpoints, Is.GreaterThanOrEqualTo(2), "the ring must have wrapped");
        Assert.That(audit.ReplayStartsChecked, Is.GreaterThanOrEqualTo(2));
        Assert.That(audit.Violations.Where(v => v.StartsWith("I6", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void I3_EachSlabJournalReceivesItsEntriesInRecoveryJournalOrder([Values(WritePolicy.Async, WritePolicy.Sync)] WritePolicy policy)
    {
        var (volume, _, audit) = Start(policy, cachePages: 16);
        Workload(volume, 6000, flushEvery: 250);
        volume.Dispose();
        Assert.That(audit.SlabJournalEntriesChecked, Is.GreaterThan(2000));
        Assert.That(audit.Violations.Where(v => v.StartsWith("I3", StringComparison.Ordinal)), Is.Empty);
    }

    [Test]
    public void I8_ALongUnflushedOverwriteStreamNeverOverrunsASlabJournal()
    {
        // Found with fio (4 KiB random overwrites, never flushed): a batch of journal blocks
        // becoming durable at once released more reference changes than a slab journal had left.
        // Big slabs take a whole burst of increments each; a short slab journal has little room.
        var format = TestPools.Small(logicalBlocks: 16384) with { JournalBlocks = 256, SlabJournalBlocks = 32, SlabBlocks = 16384 };
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(format, slabs: 2));
        using var volume = Volume.Format(device, format, TestPools.Options(scheme), new VolumeHooks { BlockMapCachePages = 1024 });
        var random = new Random(3);
        for (var i = 0; i < 30_000; i++)
            volume.Write(random.Next(12_000), Content.Random(i));
        volume.Flush();
        Assert.That(volume.GetStatistics().ReadOnly, Is.False);
        Assert.That(volume.Check(), Is.Empty);
    }

    [Test]
    public void I5_AFlushMakesEveryEarlierWriteSurviveACrashThatLosesAllUnflushedWrites()
    {
        var (volume, device, _) = Start(cachePages: 1024);
        var flushed = new Dictionary<long, byte[]>();
        for (var i = 0; i < 500; i++)
        {
            var lbn = (long)(i % 64) * Spread;
            var data = Content.Of(1 + (i % 2), i);
            volume.Write(lbn, data);
            flushed[lbn] = data;
        }
        volume.Flush();
        // Later writes are never flushed explicitly; a journal commit may still make some durable
        // (whole), so each LBN may read its flushed value or one of its later values, nothing else.
        var later = flushed.Keys.ToDictionary(l => l, _ => new List<byte[]>());
        for (var i = 0; i < 100; i++)
        {
            var lbn = (long)(i % 64) * Spread;
            var data = Content.Random(100_000 + i);
            volume.Write(lbn, data);
            later[lbn].Add(data);
        }
        using var image = device.Crash(new Random(1), tear: true, keep: 0);
        using var recovered = Volume.Open(image, TestPools.Options(scheme));
        var buffer = new byte[VdoConstants.BlockSize];
        var keptFlushed = 0;
        foreach (var (lbn, data) in flushed)
        {
            recovered.Read(lbn, buffer);
            if (buffer.AsSpan().SequenceEqual(data))
                keptFlushed++;
            else
                Assert.That(later[lbn].Exists(d => d.AsSpan().SequenceEqual(buffer)), Is.True, $"LBN {lbn} lost its flushed write");
        }
        Assert.That(keptFlushed, Is.GreaterThan(0), "writes after the flush were dropped, so flushed values must show");
        Assert.That(recovered.Check(), Is.Empty);
    }

    [Test]
    public void I3_IncrementsComeBeforeDecrementsAndPerLbnOrderIsJournalOrder()
    {
        // Overwrite the same few LBNs with data that keeps moving between shared blocks: a decrement
        // applied before its increment would underflow (and throw) or free a block still mapped.
        var (volume, device, _) = Start(cachePages: 8);
        for (var round = 0; round < 300; round++)
        {
            for (var l = 0; l < 6; l++)
                volume.Write(l * Spread, Content.Of(1 + (round % 2), (round + l) % 4));
        }
        volume.Flush();
        Assert.That(volume.Check(), Is.Empty);
        var expected = Enumerable.Range(0, 6).Select(l => Content.Of(1 + (299 % 2), (299 + l) % 4)).ToArray();
        using var image = device.Crash(new Random(2), tear: true, keep: 0);
        using var recovered = Volume.Open(image, TestPools.Options(scheme));
        var buffer = new byte[VdoConstants.BlockSize];
        for (var l = 0; l < 6; l++)
        {
            recovered.Read(l * Spread, buffer);
            Assert.That(buffer, Is.EqualTo(expected[l]), $"LBN {l * Spread} must hold its last write (journal order)");
        }
        Assert.That(recovered.Check(), Is.Empty);
    }

    [Test]
    public void I8_MemoryStaysBoundedUnderALongWriteStream()
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(slabs: 8));
        var options = TestPools.Options(scheme, o => { o.Pipeline.PackerBins = 4; o.Pipeline.RequestPoolSize = 16; });
        using var volume = Volume.Format(device, TestPools.Small(), options);
        var maxWaiting = 0;
        var maxIndex = 0L;
        for (var i = 0; i < 20000; i++)
        {
            volume.Write(i % 4096, Content.Of(1 + (i % 2), i));
            if (i % 97 == 0)
            {
                var s = volume.GetStatistics();
                maxWaiting = Math.Max(maxWaiting, s.PackerFragmentsWaiting);
                maxIndex = Math.Max(maxIndex, s.IndexEntries);
                Assert.That(s.IndexEntries, Is.LessThanOrEqualTo(s.IndexCapacity));
            }
        }
        Assert.Multiple(() =>
        {
            Assert.That(maxWaiting, Is.LessThanOrEqualTo(16), "requests waiting in the packer are bounded by the request pool");
            Assert.That(maxIndex, Is.LessThanOrEqualTo(volume.GetStatistics().IndexCapacity));
        });
    }
}
