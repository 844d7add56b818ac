using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// The journal block that ends recovery may leave valid, checksummed sectors of its sequence in
/// its ring slot (a torn write that lost sector 0 but kept later sectors). Recovery must never
/// reuse that sequence: if the next incarnation rewrote the slot under the same sequence and that
/// write were torn too, the stale sectors would pass every check and be replayed, mapping an LBN
/// to a block that has since been reused (found in review).
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class StaleJournalSectorTests(SchemeCase scheme)
{
    [Test]
    public void ASecondRecoveryNeverReplaysEntriesTheFirstRecoveryDropped()
    {
        var options = TestPools.Options(scheme);
        var hooks = new VolumeHooks { BlockMapCachePages = 1024 }; // no evictions: no incidental flushes
        var random = new Random(5);
        var buffer = new byte[VdoConstants.BlockSize];
        var zero = new byte[VdoConstants.BlockSize];

        // Incarnation 1: writes until full journal blocks, starting with block 1, go out
        // (preflushed, not flushed after). Power fails; the write of block 1 is torn: sector 0
        // never landed, sectors 1..7 did.
        var dev1 = new CrashSimulatingDevice(TestPools.DeviceBlocks(slabs: 8));
        // A 64-block ring and long slab journals: full journal blocks go out in batches of 32 before any checkpoint or ref-count write commits them.
        var v1 = Volume.Format(dev1, TestPools.Small() with { JournalBlocks = 64, SlabJournalBlocks = 224 }, options, hooks);
        var g = v1.Geometry;
        var journalBlock = g.JournalStart + (1 % g.JournalBlocks);
        for (var i = 0; !dev1.IsUnflushed(journalBlock); i++)
        {
            Assert.That(i, Is.LessThan(20_000), "precondition: journal block 1 is written, not flushed");
            v1.Write(i % 4000, Content.Random(i));
        }
        var durable1 = dev1.Crash(random, tear: false, keep: 0);
        var image1 = dev1.Crash(random, tear: false, keep: 1);
        CrashImages.CopySector(durable1, image1, journalBlock, 0);

        // Recovery 1: block 1 is unreadable (sector 0), nothing is replayed; LBN 30 reads zeros.
        var dev2 = CrashImages.Load(image1);
        var v2 = Volume.Open(dev2, options, hooks);
        Assert.That(v2.Recovered, Is.True);
        v2.Read(30, buffer);
        Assert.That(buffer, Is.EqualTo(zero), "precondition: recovery 1 dropped the unflushed write to LBN 30");

        // Incarnation 2 writes other LBNs: again full journal blocks go out, unflushed.
        // Power fails; every journal write of this incarnation is torn too: sector 1 keeps its old
        // content (for the slot of block 1, incarnation 1's stale sector).
        var written = 0;
        for (; !Enumerable.Range(0, g.JournalBlocks).Any(r => dev2.IsUnflushed(g.JournalStart + r)); written++)
        {
            Assert.That(written, Is.LessThan(20_000), "precondition: incarnation 2 writes a journal block, not flushed");
            v2.Write(300 + (written % 3000), Content.Random(100_000 + written));
        }
        var rewritten = Enumerable.Range(0, g.JournalBlocks).Select(r => g.JournalStart + r).Where(dev2.IsUnflushed).ToList();
        var durable2 = dev2.Crash(random, tear: false, keep: 0);
        var image2 = dev2.Crash(random, tear: false, keep: 1);
        foreach (var slot in rewritten)
            CrashImages.CopySector(durable2, image2, slot, 1);

        // Recovery 2: LBN 30 was never written since recovery 1 showed it empty: it must still read zeros.
        using var v3 = Volume.Open(image2, options, hooks);
        v3.Read(30, buffer);
        string? what = null;
        if (buffer.AsSpan().SequenceEqual(Content.Random(30)))
            what = "its write from before the FIRST crash (resurrected after recovery 1 dropped it)";
        for (var i = 0; i < written && what is null; i++)
        {
            if (buffer.AsSpan().SequenceEqual(Content.Random(100_000 + i)))
                what = $"the data of LBN {300 + (i % 3000)} (another block's data)";
        }
        Assert.That(buffer, Is.EqualTo(zero), $"LBN 30 reads {what ?? "garbage"}; problems: {string.Join("; ", v3.Check())}");
    }
}
