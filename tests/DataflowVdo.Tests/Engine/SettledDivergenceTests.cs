using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// Four places where the inline and the zoned write paths once behaved differently, each settled
/// to what a user wants and held in every scheme: rewriting data onto its own block at the
/// sharing limit, a stale dedupe hint, a packed block that cannot be written, and a pool whose
/// only free space is held back by the packer or the journal.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class SettledDivergenceTests(SchemeCase scheme)
{
    /// <summary>LBNs sharing one block when no other write may pin it: a pin reserves a whole group (1 + 16) below the 254 limit.</summary>
    private const int MaxSharers = VdoConstants.MaximumReferenceCount - SlabDepot.GroupReservation + 1;

    [Test]
    public void RewritingTheDataAnLbnHoldsOnABlockAtTheSharingLimitKeepsThatBlock()
    {
        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), TestPools.Options(scheme));
        var data = Content.Random(7);
        for (var lbn = 0; lbn < MaxSharers; lbn++)
            v.Write(lbn, data);
        v.Flush();
        var before = v.GetStatistics();
        Assert.That(before.DataBlocksUsed, Is.EqualTo(1), "precondition: every LBN shares one block, now at the limit");
        Assert.That(before.Counters.DedupeRollovers, Is.Zero, "precondition");

        v.Write(0, data); // the same data again, at an LBN that already maps it
        v.Flush();
        var after = v.GetStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(after.DataBlocksUsed, Is.EqualTo(1), "no second copy of data the LBN already maps");
            Assert.That(after.Counters.DedupeRollovers, Is.Zero);
            Assert.That(after.LogicalBlocksUsed, Is.EqualTo(MaxSharers));
        });

        v.Write(MaxSharers, data); // another LBN: the block is full, so this one takes a new copy
        v.Flush();
        var buffer = new byte[VdoConstants.BlockSize];
        v.Read(0, buffer);
        Assert.That(buffer, Is.EqualTo(data));
        v.Read(MaxSharers, buffer);
        Assert.That(buffer, Is.EqualTo(data));
        Assert.That(v.GetStatistics().DataBlocksUsed, Is.EqualTo(2));
        Assert.That(v.Check(), Is.Empty);
    }

    [Test]
    public void AStaleHintLeavesTheIndexEvenWhenTheWriteThatFoundItFails()
    {
        // One slab, filled; the hint for X then names a block that holds Y.
        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks(slabs: 1)), TestPools.Small(), TestPools.Options(scheme));
        var x = Content.Random(1_000_001);
        v.Write(0, x);
        var filled = 1;
        Assert.Throws<OutOfSpaceException>(() =>
        {
            for (; filled < 4000; filled++)
                v.Write(filled, Content.Random(filled));
        });
        v.Discard(0);
        v.Flush(); // X's block is free: the only free block
        v.Write(0, Content.Random(2_000_002)); // Y takes it
        v.Flush();
        var stale0 = v.GetStatistics().Counters.DedupeAdviceStale;

        // X again: its hint names Y's block, which verification rejects; no block is free, so the write fails.
        Assert.Throws<OutOfSpaceException>(() => v.Write(1, x));
        Assert.That(v.GetStatistics().Counters.DedupeAdviceStale, Is.EqualTo(stale0 + 1), "the stale hint was found");

        v.Discard(2);
        v.Flush();
        v.Write(1, x); // space again: the hint is gone, so no second wasted pin and compare
        v.Flush();
        var buffer = new byte[VdoConstants.BlockSize];
        v.Read(1, buffer);
        Assert.That(buffer, Is.EqualTo(x));
        Assert.That(v.GetStatistics().Counters.DedupeAdviceStale, Is.EqualTo(stale0 + 1), "the stale hint left the index when it was found");
        Assert.That(v.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(60_000)]
    public void APackedBlockThatCannotBeWrittenFailsItsWritesLeavesTheOldDataAndFailsEveryFlush()
    {
        var memory = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var device = new FaultInjectingDevice(memory);
        using (var v = Volume.Format(device, TestPools.Small(), TestPools.Options(scheme)))
        {
            for (var lbn = 0; lbn < 3; lbn++)
                v.Write(lbn, Content.Random(lbn)); // the old data, durable
            v.Flush();
            device.FailNextWrite = v.Geometry.IsDataBlock;
            for (var lbn = 0; lbn < 3; lbn++)
                v.Write(lbn, Content.Compressible(lbn)); // acknowledged; waiting in the packer
            Assert.That(() => v.Flush(), Throws.InstanceOf<IOException>().Or.InstanceOf<ReadOnlyVolumeException>(), "the flush that writes the packed block");
            Assert.That(device.FailNextWrite, Is.Null, "precondition: the packed block's write failed");
            Assert.That(v.ReadOnlyReason, Is.Not.Null, "a lost acknowledged write makes the volume read-only");
            Assert.That(() => v.Flush(), Throws.InstanceOf<ReadOnlyVolumeException>(), "no later flush may report the lost writes durable");
            var buffer = new byte[VdoConstants.BlockSize];
            for (var lbn = 0; lbn < 3; lbn++)
            {
                v.Read(lbn, buffer);
                Assert.That(buffer, Is.EqualTo(Content.Random(lbn)), $"LBN {lbn} reads what survives the failure, as it will after reopening");
            }
        }
        using (var v = Volume.Open(device, TestPools.Options(scheme)))
        {
            var buffer = new byte[VdoConstants.BlockSize];
            for (var lbn = 0; lbn < 3; lbn++)
            {
                v.Read(lbn, buffer);
                Assert.That(buffer, Is.EqualTo(Content.Random(lbn)), $"LBN {lbn} after reopening");
            }
            Assert.That(v.Check(), Is.Empty);
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public void AWriteNeedingANewPageFindsTheSpaceTheJournalHoldsBack()
    {
        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks(slabs: 1)), TestPools.Small(), TestPools.Options(scheme));
        var written = 0;
        Assert.Throws<OutOfSpaceException>(() =>
        {
            for (; written < 3000; written++) // pages 0..2 only
                v.Write(written, Content.Random(written));
        });
        v.Flush();
        v.Discard(0, 10); // frees ten blocks, once the journal commits the discards: no flush here
        // LBN 4000 is on a page nobody touched: the write needs a block for the page and one for its data.
        v.Write(4000, Content.Random(4000));
        v.Write(11, Content.Random(5000)); // and an overwrite of a mapped LBN
        var buffer = new byte[VdoConstants.BlockSize];
        v.Read(4000, buffer);
        Assert.That(buffer, Is.EqualTo(Content.Random(4000)));
        v.Read(11, buffer);
        Assert.That(buffer, Is.EqualTo(Content.Random(5000)));
        Assert.That(v.Check(), Is.Empty);
    }
}
