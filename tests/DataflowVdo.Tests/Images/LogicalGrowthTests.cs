using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Images;

/// <summary>
/// Online logical growth (<see cref="Volume.GrowLogical"/>, <c>CreateImage(growLogical: true)</c>):
/// the new space is usable at once, the size survives a reopen, a crash at any write of a growth
/// leaves the old size or the new (never an image outside the logical space), and a growth past
/// what the block-map root can map is refused with the pool unchanged. In every scheme.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class LogicalGrowthTests(SchemeCase scheme)
{
    private const long Page = Geometry.EntriesPerPage;
    private const long Logical = 4096; // not a whole number of pages: the last extent is clipped before growth
    private const long BigBlocks = (Page * 40) + 5;

    private VdoOptions Options => TestPools.Options(scheme);

    private static FormatParameters Format => TestPools.Small(Logical) with { MaxLogicalBlocks = Page * 64 };

    private static MemoryBlockDevice NewDevice() => new(TestPools.DeviceBlocks(Format, 4));

    [Test]
    [CancelAfter(60_000)]
    public void AnImageLargerThanTheLogicalSpaceGrowsItAndSurvivesReopen()
    {
        var device = NewDevice();
        ImageEntry big;
        using (var v = Volume.Format(device, Format, Options))
        {
            var small = v.CreateImage("small", (Logical - 1) * 4096); // up to the (clipped) end
            v.Write(small.FirstLbn + Logical - 2, Content.Random(1));
            Assert.That(Assert.Throws<VdoException>(() => v.CreateImage("big", BigBlocks * 4096))!.Message, Does.Contain("no free logical space"));

            big = v.CreateImage("big", BigBlocks * 4096, growLogical: true);
            Assert.That(big.FirstLbn % Page, Is.Zero, "a new image starts on a block-map page boundary");
            Assert.That(big.FirstLbn, Is.GreaterThanOrEqualTo(Logical), "after the clipped last extent");
            Assert.That(v.LogicalBlocks, Is.EqualTo(big.FirstLbn + BigBlocks), "grown just enough");
            v.Write(big.FirstLbn, Content.Random(2));
            v.Write(big.FirstLbn + BigBlocks - 1, Content.Random(3));
        }
        using (var v = Volume.Open(device, Options))
        {
            Assert.That(v.LogicalBlocks, Is.EqualTo(big.FirstLbn + BigBlocks));
            Assert.That(v.Images.Select(i => i.Name), Is.EqualTo(new[] { "small", "big" }));
            var block = new byte[VdoConstants.BlockSize];
            v.Read(Logical - 2, block);
            Assert.That(block, Is.EqualTo(Content.Random(1)));
            v.Read(big.FirstLbn, block);
            Assert.That(block, Is.EqualTo(Content.Random(2)));
            v.Read(big.FirstLbn + BigBlocks - 1, block);
            Assert.That(block, Is.EqualTo(Content.Random(3)));
            Assert.That(v.Check(), Is.Empty);
            // And again, past the first growth.
            Assert.That(v.GrowLogical(v.LogicalBlocks + (Page * 3)), Is.EqualTo(big.FirstLbn + BigBlocks));
            v.Write(v.LogicalBlocks - 1, Content.Random(4));
        }
        using (var v = Volume.Open(device, Options))
        {
            Assert.That(v.LogicalBlocks, Is.EqualTo(big.FirstLbn + BigBlocks + (Page * 3)));
            var block = new byte[VdoConstants.BlockSize];
            v.Read(v.LogicalBlocks - 1, block);
            Assert.That(block, Is.EqualTo(Content.Random(4)));
            Assert.That(v.Check(), Is.Empty);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public void GrowingPastWhatTheRootCanMapIsRefusedAndChangesNothing()
    {
        var device = NewDevice();
        using (var v = Volume.Format(device, Format, Options))
        {
            Assert.That(v.MaxLogicalBlocks, Is.EqualTo(Page * Page), "one root block, formatted for 64 pages, maps 812");
            var e = Assert.Throws<VdoException>(() => v.CreateImage("huge", (Page * Page + 1) * 4096, growLogical: true))!;
            Assert.That(e.Message, Does.Contain("can grow to at most").And.Contain("image 'huge'"));
            Assert.That(Assert.Throws<VdoException>(() => v.GrowLogical(v.MaxLogicalBlocks + 1)), Is.Not.Null);
            Assert.That(Assert.Throws<ArgumentException>(() => v.CreateImage("bad/name", Page * 4096 * 100, growLogical: true)), Is.Not.Null);
            Assert.That(v.LogicalBlocks, Is.EqualTo(Logical), "a refused or bad request grows nothing");
            Assert.That(v.ReadOnlyReason, Is.Null);
        }
        using (var v = Volume.Open(device, Options))
            Assert.That(v.LogicalBlocks, Is.EqualTo(Logical));
    }

    [Test]
    [CancelAfter(60_000)]
    public void ASuperblockClaimingMoreThanTheRootCanMapFailsTheOpenNamingIt()
    {
        var device = NewDevice();
        ulong nonce;
        using (var v = Volume.Format(device, Format, Options))
            nonce = v.Geometry.Nonce;
        var super = SuperBlock.Read(device, nonce);
        var block = new byte[VdoConstants.BlockSize];
        var bad = super with { Sequence = super.Sequence + 1, LogicalBlocks = (Page * Page) + 1 };
        bad.Encode(block, nonce);
        device.Write(bad.Location, block);
        var e = Assert.Throws<CorruptMetadataException>(() => Volume.Open(device, Options))!;
        Assert.That(e.Message, Does.Contain("superblock").And.Contain($"logical size {(Page * Page) + 1} blocks"));
    }

    /// <summary>
    /// The power is cut at every write of "grow, create the image, write to it, flush" in turn
    /// (unflushed writes kept at random, some torn). After recovery the pool opens with the old
    /// logical size or the new one, an image exists only inside it, data flushed before is intact,
    /// the flushed writes to the new image are there once the flush returned, and the check is clean.
    /// </summary>
    [Test]
    [CancelAfter(240_000)]
    public void ACrashAtAnyWriteOfAGrowthLeavesTheOldSizeOrTheNew([Values(false, true)] bool tear)
    {
        var completed = false;
        for (var cut = 1; !completed; cut++)
        {
            Assert.That(cut, Is.LessThan(500), "the growth finishes within 500 writes");
            var random = new Random(cut * 7919 + (tear ? 1 : 0));
            var device = new CrashSimulatingDevice(TestPools.DeviceBlocks(Format, 4));
            var volume = Volume.Format(device, Format, Options);
            var small = volume.CreateImage("small", 4 * Page * 4096);
            volume.Write(small.FirstLbn + 3, Content.Random(10));
            volume.Flush();

            device.CutPowerAfter(cut);
            ImageEntry? big = null;
            try
            {
                big = volume.CreateImage("big", BigBlocks * 4096, growLogical: true);
                volume.Write(big.FirstLbn + BigBlocks - 1, Content.Random(11));
                volume.Flush();
                completed = true;
            }
            catch (Exception e) when (device.PowerCut && e is IOException or ReadOnlyVolumeException)
            {
            }

            using var recovered = Volume.Open(device.Crash(random, tear), Options);
            var where = $"power cut at write {cut}{(tear ? ", torn" : "")}";
            Assert.That(recovered.LogicalBlocks, Is.EqualTo(Logical).Or.EqualTo(small.FirstLbn + (4 * Page) + BigBlocks), where);
            var found = recovered.FindImage("big");
            if (found is not null)
                Assert.That(found.FirstLbn + BigBlocks, Is.LessThanOrEqualTo(recovered.LogicalBlocks), where);
            var block = new byte[VdoConstants.BlockSize];
            recovered.Read(small.FirstLbn + 3, block);
            Assert.That(block, Is.EqualTo(Content.Random(10)), where);
            if (completed)
            {
                Assert.That(found, Is.Not.Null, where);
                recovered.Read(found!.FirstLbn + BigBlocks - 1, block);
                Assert.That(block, Is.EqualTo(Content.Random(11)), where);
            }
            Assert.That(recovered.Check(), Is.Empty, where);
        }
    }
}
