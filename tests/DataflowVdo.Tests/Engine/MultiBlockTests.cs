using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>Multi-block requests (what a 1 MiB FUSE write becomes) behave like the blocks written one by one.</summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class MultiBlockTests(SchemeKind scheme)
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
    public void RepeatedBlocksInOneRequestAreStoredOnce()
    {
        // A request's blocks may be in flight together (inline writes a request's data outside
        // its lock): identical ones must still share one block (hash lock: one agent, 15 waiters).
        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), TestPools.Options(scheme));
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
