using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Tests.Infrastructure;

/// <summary>Several writers at once on a fresh pool, then the pool reopened and every block read back.</summary>
public static class ParallelWriters
{
    /// <summary>
    /// <paramref name="writers"/> threads each write <paramref name="blocks"/> blocks (zeros,
    /// unique and compressible data, duplicated across writers) to their own LBN range, flushing
    /// every <paramref name="flushEvery"/> blocks (0 = only at the end); after a close and a reopen
    /// every block reads back as written and <c>check</c> is clean.
    /// </summary>
    public static void KeepWhatTheyWrote(VdoOptions options, int writers, int blocks, int flushEvery = 0)
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        var expected = new byte[writers][][];
        var stride = blocks * 2;
        using (var v = Volume.Format(device, TestPools.Small(), options))
        {
            Parallel.For(0, writers, new ParallelOptions { MaxDegreeOfParallelism = writers }, t =>
            {
                expected[t] = new byte[blocks][];
                for (var i = 0; i < blocks; i++)
                {
                    var data = Content.Of((i + t) % 3, i % 40); // zeros, unique, compressible; duplicates across writers
                    expected[t][i] = data;
                    v.Write((t * stride) + i, data);
                    if (flushEvery > 0 && i % flushEvery == flushEvery - 1)
                        v.Flush();
                }
            });
            v.Flush();
        }
        using var reopened = Volume.Open(device, options);
        var buffer = new byte[VdoConstants.BlockSize];
        for (var t = 0; t < writers; t++)
        {
            for (var i = 0; i < blocks; i++)
            {
                reopened.Read((t * stride) + i, buffer);
                Assert.That(buffer, Is.EqualTo(expected[t][i]), $"writer {t}, block {i}");
            }
        }
        Assert.That(reopened.Check(), Is.Empty);
    }
}
