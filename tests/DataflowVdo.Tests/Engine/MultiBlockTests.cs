using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>Multi-block requests (what a 1 MiB FUSE write becomes) behave like the blocks written one by one.</summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class MultiBlockTests(SchemeCase scheme)
{
    [Test]
    public void WriteBlocksAndReadBlocksMatchSingleBlockRequests()
    {
        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), TestPools.Options(scheme));
        var data = new byte[64 * VdoConstants.BlockSize];
        for (var i = 0; i < 64; i++)
            Content.Of(i % 3, i % 20).CopyTo(data, i * VdoConstants.BlockSize);
        v.WriteBlocks(100, data);
        var back = new byte[data.Length];
        v.ReadBlocks(100, back);
        Assert.That(back, Is.EqualTo(data));
        var one = new byte[VdoConstants.BlockSize];
        v.Read(100 + 7, one);
        Assert.That(one, Is.EqualTo(Content.Of(7 % 3, 7)));
        v.Flush();
        Assert.That(v.GetStatistics().LogicalBlocksUsed, Is.EqualTo(64));
        Assert.That(v.Check(), Is.Empty);
    }

    [Test]
    public void LargeRequestsOnAPoolFileReadBackAfterReopeningWhateverPathTheirDataTook()
    {
        // On a pool file, a large request's data goes around the device's write cache (inline
        // scheme: direct for long runs, buffered for the short runs of a used pool), small ones
        // through it; what was written last is what reads back, before and after reopening.
        var dir = Directory.CreateTempSubdirectory("dvdo-mb-");
        try
        {
            var path = Path.Combine(dir.FullName, "pool");
            var expected = new Dictionary<long, byte[]>();
            var device = FileBlockDevice.Create(path, TestPools.DeviceBlocks());
            using (var v = Volume.Format(device, TestPools.Small(), TestPools.Options(scheme), ownsDevice: true))
            {
                for (var round = 0; round < 4; round++)
                {
                    // Single blocks scattered over the range (cached), then a 64-block request over it.
                    for (var i = 0; i < 64; i += 3)
                    {
                        var block = Content.Random(1000 * round + i);
                        v.Write(200 + i, block);
                        expected[200 + i] = block;
                    }
                    var data = new byte[64 * VdoConstants.BlockSize];
                    for (var i = 0; i < 64; i++)
                    {
                        // Every fifth block stays zero (no data write): it breaks the request's runs.
                        var block = i % 5 == round ? new byte[VdoConstants.BlockSize] : Content.Random(100_000 + (1000 * round) + i);
                        block.CopyTo(data, i * VdoConstants.BlockSize);
                        expected[200 + i] = block;
                    }
                    v.WriteBlocks(200, data);
                }
                v.Flush();
            }
            using var reopened = Volume.Open(FileBlockDevice.Open(path), TestPools.Options(scheme), ownsDevice: true);
            var back = new byte[VdoConstants.BlockSize];
            foreach (var (lbn, block) in expected)
            {
                reopened.Read(lbn, back);
                Assert.That(back, Is.EqualTo(block), $"LBN {lbn}");
            }
            Assert.That(reopened.Check(), Is.Empty);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public void OnlyLargeRequestsAskTheDeviceToWriteAroundItsCache()
    {
        var device = new WriteAroundCountingDevice(new MemoryBlockDevice(TestPools.DeviceBlocks()));
        using var v = Volume.Format(device, TestPools.Small(), TestPools.Options(scheme));
        var small = new byte[(Volume.WriteAroundMinBlocks - 1) * VdoConstants.BlockSize];
        Random.Shared.NextBytes(small);
        v.WriteBlocks(0, small);
        Assert.That(device.AroundBlocks, Is.Zero, "a request of fewer than 32 stored blocks goes through the cache");
        var large = new byte[64 * VdoConstants.BlockSize];
        Random.Shared.NextBytes(large);
        v.WriteBlocks(100, large);
        // The inline scheme writes a large request's data itself; the zoned schemes write block by block.
        Assert.That(device.AroundBlocks, Is.EqualTo(scheme == SchemeKind.Inline ? 64 : 0));
        var back = new byte[large.Length];
        v.ReadBlocks(100, back);
        Assert.That(back, Is.EqualTo(large));
    }

    [Test]
    public void ALargeRequestGoesOutAsOneRunWhileCompressionIsSkipped()
    {
        // While compression is being skipped, one block in 16 is still compressed as a probe and
        // reaches its data write later than the others; the request's other blocks wait for it,
        // so a 1 MiB FUSE write of fio-like data stays long enough for the device's direct path.
        var device = new WriteAroundCountingDevice(new MemoryBlockDevice(TestPools.DeviceBlocks()));
        using var v = Volume.Format(device, TestPools.Small(), TestPools.Options(scheme, o => o.Pipeline.CompressionProbeAfter = 16));
        var data = new byte[64 * VdoConstants.BlockSize];
        for (var round = 0; round < 4; round++)
        {
            for (var i = 0; i < 64; i++)
                HalfCompressible((64 * round) + i).CopyTo(data, i * VdoConstants.BlockSize);
            v.WriteBlocks(64 * round, data);
        }
        var stats = v.GetStatistics();
        Assert.That(stats.CompressionSkipped, Is.GreaterThan(0), "the streak of wasted compressions formed");
        if (scheme == SchemeKind.Inline)
            Assert.That(device.LongestAroundRun, Is.EqualTo(64), "a request's data blocks went out in one run");
        var back = new byte[data.Length];
        v.ReadBlocks(64 * 3, back);
        Assert.That(back, Is.EqualTo(data));
        Assert.That(v.Check(), Is.Empty);
    }

    [Test]
    public void LargeWritersBehindOneRunnerSlotAllFinishAndReadBack()
    {
        // A large request's data write gives up its runner slot while the disk works and takes
        // one again after (Pipeline:Runners): with one slot and four writers of 1 MiB requests on
        // a pool file, every writer must still finish and every block read back.
        const int Writers = 4, Requests = 3, PerRequest = 256;
        var dir = Directory.CreateTempSubdirectory("dvdo-mb-");
        try
        {
            var path = Path.Combine(dir.FullName, "pool");
            var options = TestPools.Options(scheme, o => o.Pipeline.Runners = 1);
            var device = FileBlockDevice.Create(path, TestPools.DeviceBlocks());
            using (var v = Volume.Format(device, TestPools.Small(), options, ownsDevice: true))
            {
                Parallel.For(0, Writers, new ParallelOptions { MaxDegreeOfParallelism = Writers }, t =>
                {
                    var data = new byte[PerRequest * VdoConstants.BlockSize];
                    for (var r = 0; r < Requests; r++)
                    {
                        for (var i = 0; i < PerRequest; i++)
                            HalfCompressible(Id(t, r, i)).CopyTo(data, i * VdoConstants.BlockSize);
                        v.WriteBlocks(Lbn(t, r), data);
                    }
                });
                v.Flush();
            }
            using var reopened = Volume.Open(FileBlockDevice.Open(path), options, ownsDevice: true);
            var back = new byte[PerRequest * VdoConstants.BlockSize];
            for (var t = 0; t < Writers; t++)
            {
                for (var r = 0; r < Requests; r++)
                {
                    reopened.ReadBlocks(Lbn(t, r), back);
                    for (var i = 0; i < PerRequest; i += 17)
                        Assert.That(back.AsSpan(i * VdoConstants.BlockSize, VdoConstants.BlockSize).ToArray(), Is.EqualTo(HalfCompressible(Id(t, r, i))), $"writer {t}, request {r}, block {i}");
                }
            }
            Assert.That(reopened.Check(), Is.Empty);
        }
        finally
        {
            dir.Delete(recursive: true);
        }

        static long Lbn(int writer, int request) => ((writer * Requests) + request) * (long)PerRequest;

        static int Id(int writer, int request, int block) => (((writer * Requests) + request) * PerRequest) + block;
    }

    /// <summary>Like fio's "50% compressible" buffers: LZ4 makes ~2,100 bytes of each, too big for two to share a block.</summary>
    private static byte[] HalfCompressible(int id)
    {
        var b = Content.Random(id);
        for (var chunk = 0; chunk < VdoConstants.BlockSize; chunk += 512)
            b.AsSpan(chunk + 256, 256).Clear();
        return b;
    }

    /// <summary>Counts the blocks a volume asks to have written around the device's cache.</summary>
    private sealed class WriteAroundCountingDevice(IBlockDevice inner) : IBlockDevice
    {
        public int AroundBlocks { get; private set; }

        /// <summary>The most blocks in one write-around call (one run of consecutive blocks).</summary>
        public int LongestAroundRun { get; private set; }

        public long BlockCount => inner.BlockCount;

        public void Read(long pbn, Span<byte> destination) => inner.Read(pbn, destination);

        public void Read(long pbn, IReadOnlyList<Memory<byte>> destinations) => inner.Read(pbn, destinations);

        public void Write(long pbn, ReadOnlySpan<byte> source) => inner.Write(pbn, source);

        public void Write(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources) => inner.Write(pbn, sources);

        public void WriteAround(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources)
        {
            lock (this)
            {
                AroundBlocks += sources.Count;
                LongestAroundRun = Math.Max(LongestAroundRun, sources.Count);
            }
            inner.Write(pbn, sources);
        }

        public void Flush() => inner.Flush();

        public void Dispose() => inner.Dispose();
    }

    [TestCase(true)]
    [TestCase(false)]
    public void RepeatedBlocksInOneRequestAreStoredOnce(bool compression)
    {
        // A request's blocks may be in flight together (inline writes a request's data outside
        // its lock): identical ones must still share one block (hash lock: one agent, 15 waiters).
        // Without compression nothing under the lock reads the first block's data (inline: it
        // stays in the caller's buffer), and the duplicates must still be compared with it.
        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), TestPools.Options(scheme, o => o.Pipeline.Compression = compression));
        var data = new byte[16 * VdoConstants.BlockSize];
        for (var i = 0; i < 16; i++)
            Content.Random(9).CopyTo(data, i * VdoConstants.BlockSize);
        v.WriteBlocks(200, data);
        v.Flush();
        var stats = v.GetStatistics();
        Assert.That(stats.LogicalBlocksUsed, Is.EqualTo(16));
        // Inline runs the request's blocks in order on one thread: exactly one copy. The concurrent
        // schemes run them at once: a duplicate that finds the first copy busy (its reference
        // count being changed) stores a second one rather than wait, as dm-vdo does (seen once in
        // a full-suite run); never one copy per block.
        Assert.That(stats.DataBlocksUsed, scheme == SchemeKind.Inline ? Is.EqualTo(1) : Is.LessThanOrEqualTo(2), "16 identical blocks of one request share one data block");
        var back = new byte[data.Length];
        v.ReadBlocks(200, back);
        Assert.That(back, Is.EqualTo(data));
        Assert.That(v.Check(), Is.Empty);
    }

    [Test]
    public void MultiBlockRequestsOutsideTheVolumeOrOfPartialBlocksAreRefused()
    {
        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), TestPools.Options(scheme));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.WriteBlocks(4090, new byte[8 * VdoConstants.BlockSize]));
        Assert.Throws<ArgumentException>(() => v.WriteBlocks(0, new byte[6000]));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.ReadBlocks(4095, new byte[2 * VdoConstants.BlockSize]));
        Assert.That(v.GetStatistics().Counters.WritesIn, Is.Zero, "nothing was written by a refused request");
    }
}
