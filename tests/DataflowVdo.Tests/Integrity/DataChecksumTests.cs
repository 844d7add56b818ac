using System.Buffers.Binary;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Integrity;

/// <summary>
/// End-to-end data checksums (issue 21): a damaged data block or packed fragment fails the read
/// with an error naming the LBN and the PBN, for every LBN that shares it — never wrong data;
/// scrub finds it and names every image and LBN it affects; repair drops the mappings only when
/// told to; the checksum is durable with the mapping (a recovered pool verifies).
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class DataChecksumTests(SchemeCase scheme)
{
    private static readonly byte[] s_shared = Content.Random(7000);

    [Test]
    public void AFlippedByteInADataBlockFailsTheReadOfEverySharerNamingLbnAndPbnNeverWrongData()
    {
        var (device, volume) = Start();
        using var _ = volume;
        volume.Write(1, Content.Random(1));
        foreach (var lbn in new long[] { 10, 20, 30 })
            volume.Write(lbn, s_shared); // one block, shared by dedupe
        volume.Write(2, Content.Random(2));
        volume.Flush();
        var pbn = FindBlock(device, volume.Geometry, s_shared);
        Flip(device, pbn, 1234);

        var buffer = new byte[VdoConstants.BlockSize];
        foreach (var lbn in new long[] { 10, 20, 30 })
        {
            var e = Assert.Throws<DataChecksumException>(() => volume.Read(lbn, buffer), $"LBN {lbn} shares the damaged block");
            Assert.That(e!.Lbn, Is.EqualTo(lbn));
            Assert.That(e.Pbn, Is.EqualTo(pbn));
            Assert.That(e.Message, Does.Contain($"LBN {lbn}").And.Contain($"PBN {pbn}"));
        }
        Assert.That(volume.GetStatistics().Counters.DataChecksumFailures, Is.EqualTo(3), "each failed read is counted");
        Assert.That(volume.ReadOnlyReason, Is.Null, "damaged data fails the read, not the pool");
        volume.Read(1, buffer);
        Assert.That(buffer, Is.EqualTo(Content.Random(1)), "intact blocks read as before");
        volume.Read(2, buffer);
        Assert.That(buffer, Is.EqualTo(Content.Random(2)));

        // A multi-block read across it fails too (never hands out the damaged block).
        var many = new byte[4 * VdoConstants.BlockSize];
        Assert.Throws<DataChecksumException>(() => volume.ReadBlocks(8, many));

        // Dedupe never shares onto the damaged block: the same data written again gets a new block that reads back.
        volume.Write(40, s_shared);
        volume.Flush();
        volume.Read(40, buffer);
        Assert.That(buffer, Is.EqualTo(s_shared));
    }

    [Test]
    public void AFlippedByteInAPackedFragmentFailsThatFragmentsReadsNamingLbnAndPbnNeverWrongData()
    {
        var (device, volume) = Start();
        using var _ = volume;
        const int Count = 12;
        for (var i = 0; i < Count; i++)
            volume.Write(100 + i, Content.Compressible(i));
        for (var i = 0; i < Count; i++)
            volume.Write(200 + i, Content.Compressible(i)); // every fragment also shared by dedupe
        volume.Flush();
        var g = volume.Geometry;
        var packed = DataBlocks(device, g).First(p => PackedBlock.FragmentCount(ReadBlock(device, p)) > 1);
        var block = ReadBlock(device, packed);
        var size0 = BinaryPrimitives.ReadUInt16LittleEndian(block.AsSpan(4));
        Flip(device, packed, PackedBlock.HeaderSize + size0 - 1); // the last literal of fragment 0: still decodes, to wrong data

        var failed = new List<long>();
        var buffer = new byte[VdoConstants.BlockSize];
        for (var i = 0; i < Count; i++)
        {
            foreach (var lbn in new long[] { 100 + i, 200 + i })
            {
                try
                {
                    volume.Read(lbn, buffer);
                    Assert.That(buffer, Is.EqualTo(Content.Compressible(i)), $"LBN {lbn} read without error must be right");
                }
                catch (DataChecksumException e)
                {
                    Assert.That(e.Lbn, Is.EqualTo(lbn));
                    Assert.That(e.Pbn, Is.EqualTo(packed));
                    Assert.That(e.Mapping.Slot, Is.Zero, "only fragment 0 was damaged");
                    Assert.That(e.Message, Does.Contain($"LBN {lbn}").And.Contain($"PBN {packed} slot 0"));
                    failed.Add(lbn);
                }
            }
        }
        Assert.That(failed, Has.Count.EqualTo(2), "both sharers of fragment 0 fail, nobody else");
        Assert.That(failed[1] - failed[0], Is.EqualTo(100));
        Assert.That(volume.ReadOnlyReason, Is.Null);
    }

    [Test]
    public void ScrubNamesEveryImageAndLbnADamagedBlockAffects()
    {
        var (device, volume) = Start();
        using var _ = volume;
        var a = volume.CreateImage("a", 64L * VdoConstants.BlockSize);
        var b = volume.CreateImage("b", 64L * VdoConstants.BlockSize);
        volume.Write(a.FirstLbn + 3, s_shared);
        volume.Write(b.FirstLbn + 9, s_shared);
        for (var i = 0; i < 12; i++)
            volume.Write(a.FirstLbn + 20 + i, Content.Compressible(i));
        volume.Write(a.FirstLbn + 5, Content.Random(5));
        volume.Flush();
        Assert.That(volume.Scrub().Clean, Is.True, "precondition: a healthy pool scrubs clean");

        var g = volume.Geometry;
        var pbn = FindBlock(device, g, s_shared);
        Flip(device, pbn, 99);
        var packed = DataBlocks(device, g).First(p => PackedBlock.FragmentCount(ReadBlock(device, p)) > 1);
        var size0 = BinaryPrimitives.ReadUInt16LittleEndian(ReadBlock(device, packed).AsSpan(4));
        Flip(device, packed, PackedBlock.HeaderSize + size0 - 1);

        var report = volume.Scrub();
        Assert.That(report.Damage, Has.Count.EqualTo(2), string.Join("; ", report.Damage));
        var data = report.Damage.Single(d => d.Region == "data block");
        Assert.That(data.Pbn, Is.EqualTo(pbn));
        Assert.That(data.Affected.Select(r => (r.Image, r.ImageBlock, r.Lbn)),
            Is.EquivalentTo(new[] { ("a", 3L, a.FirstLbn + 3), ((string?)"b", 9L, b.FirstLbn + 9) }));
        var fragment = report.Damage.Single(d => d.Region == "packed block");
        Assert.That(fragment.Pbn, Is.EqualTo(packed));
        Assert.That(fragment.Affected, Has.Count.EqualTo(1));
        Assert.That(fragment.Affected[0].Image, Is.EqualTo("a"));
        Assert.That(fragment.Affected[0].Slot, Is.Zero);
        Assert.That(report.DataBlocks, Is.GreaterThanOrEqualTo(2));
        Assert.That(report.Fragments, Is.GreaterThanOrEqualTo(12));
        Assert.That(report.MetadataBlocks, Is.GreaterThan(0));
        Assert.That(volume.GetStatistics().Counters.DataChecksumFailures, Is.EqualTo(2), "one count per damaged block");
    }

    [Test]
    public void ScrubFindsDamagedMetadata()
    {
        var (device, volume) = Start();
        using var _ = volume;
        for (var lbn = 0; lbn < 50; lbn++)
            volume.Write(lbn, Content.Random(lbn));
        volume.Flush();
        var g = volume.Geometry;
        Flip(device, g.RefCountStart(0), 100); // a reference-count block on disk
        var report = volume.Scrub();
        Assert.That(report.Damage.Select(d => (d.Region, d.Pbn)), Does.Contain(("reference counts", g.RefCountStart(0))));
    }

    [Test]
    public void RepairKeepsDamagedMappingsUnlessToldToDropThem()
    {
        var (device, volume) = Start();
        using (volume)
        {
            foreach (var lbn in new long[] { 10, 20 })
                volume.Write(lbn, s_shared);
            volume.Write(30, Content.Random(30));
            volume.Flush();
            Flip(device, FindBlock(device, volume.Geometry, s_shared), 4000);
        }
        var options = TestPools.Options(scheme);
        var buffer = new byte[VdoConstants.BlockSize];
        using (var v = Volume.Open(device, options))
        {
            var kept = v.Repair();
            Assert.That(kept.DroppedMappings, Is.Zero);
            Assert.That(kept.Changes, Is.Empty);
            Assert.Throws<DataChecksumException>(() => v.Read(10, buffer), "without the option the mapping stays and its reads keep failing");
            Assert.That(v.Scrub().Damage, Has.Count.EqualTo(1));
        }
        using (var v = Volume.Open(device, options))
        {
            var result = v.Repair(dropDamaged: true);
            Assert.That(result.DroppedMappings, Is.EqualTo(2));
            Assert.That(result.Changes.Where(c => c.StartsWith("LBN ", StringComparison.Ordinal)).Select(c => c.Split(':')[0]),
                Is.EquivalentTo(new[] { "LBN 10", "LBN 20" }), "every dropped mapping is reported");
            Assert.That(result.Changes, Has.Some.Contains("freed"), "the damaged block's count is rebuilt to 0");
            v.Read(10, buffer);
            Assert.That(buffer, Is.All.Zero, "a dropped LBN reads as zeros");
            Assert.That(v.Check(), Is.Empty);
            Assert.That(v.Scrub().Clean, Is.True);
            v.Write(40, s_shared); // in service
        }
        using (var v = Volume.Open(device, options))
        {
            v.Read(20, buffer);
            Assert.That(buffer, Is.All.Zero, "the drop is durable");
            v.Read(40, buffer);
            Assert.That(buffer, Is.EqualTo(s_shared));
            v.Read(30, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Random(30)));
            Assert.That(v.Check(), Is.Empty);
        }
    }

    [Test]
    public void ChecksumsAreDurableWithTheirMappingsThroughACrash()
    {
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var options = TestPools.Options(scheme);
        var volume = Volume.Format(inner, TestPools.Small(), options);
        for (var lbn = 0; lbn < 60; lbn++)
            volume.Write(lbn, Content.Of(1 + (lbn % 2), lbn));
        volume.Write(70, s_shared);
        volume.Write(71, s_shared);
        volume.Flush(); // journaled and durable, never checkpointed: recovery rebuilds the mappings from the journal
        var image = inner.Crash(new Random(3), tear: true, keep: 0);
        using var recovered = Volume.Open(image, options);
        Assert.That(recovered.Recovered, Is.True, "precondition: the open replayed the journal");
        var buffer = new byte[VdoConstants.BlockSize];
        for (var lbn = 0; lbn < 60; lbn++)
        {
            recovered.Read(lbn, buffer); // would fail if the journal had not carried the checksums
            Assert.That(buffer, Is.EqualTo(Content.Of(1 + (lbn % 2), lbn)));
        }
        Flip(image, FindBlock(image, recovered.Geometry, s_shared), 7);
        Assert.Throws<DataChecksumException>(() => recovered.Read(71, buffer), "the replayed mapping carries the checksum");
    }

    [Test]
    public void APoolOfTheFormatBeforeChecksumsIsRefusedByName()
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        Volume.Format(device, TestPools.Small(), TestPools.Options(scheme)).Dispose();
        var block = ReadBlock(device, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(6), 1); // as version 1 wrote it
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(24), Checksums.Compute(block.AsSpan(0, 24), Checksums.ZeroField, block.AsSpan(28)));
        device.Write(0, block);
        var e = Assert.Throws<UnsupportedFormatException>(() => Volume.Open(device, TestPools.Options(scheme)));
        Assert.That(e!.Version, Is.EqualTo(1));
        Assert.That(e.Message, Does.Contain("version 1").And.Contain("before data checksums"));
    }

    private (MemoryBlockDevice Device, Volume Volume) Start()
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        return (device, Volume.Format(device, TestPools.Small(), TestPools.Options(scheme)));
    }

    private static byte[] ReadBlock(IBlockDevice device, long pbn)
    {
        var block = new byte[VdoConstants.BlockSize];
        device.Read(pbn, block);
        return block;
    }

    private static void Flip(IBlockDevice device, long pbn, int offset)
    {
        var block = ReadBlock(device, pbn);
        block[offset] ^= 0x20;
        device.Write(pbn, block);
    }

    private static IEnumerable<long> DataBlocks(IBlockDevice device, Geometry g) =>
        Enumerable.Range(0, g.SlabCount).SelectMany(s => Enumerable.Range(0, g.SlabBlocks).Select(b => g.SlabDataStart(s) + b));

    private static long FindBlock(IBlockDevice device, Geometry g, byte[] data) =>
        DataBlocks(device, g).Single(p => ReadBlock(device, p).AsSpan().SequenceEqual(data));
}
