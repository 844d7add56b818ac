using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>Damaged metadata, wrong sizes, a full pool and bad options give clear errors and lose no data.</summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class BadInputTests(SchemeCase scheme)
{
    private VdoOptions Options => TestPools.Options(scheme);

    private MemoryBlockDevice CleanPool(int blocks = 200)
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(slabs: 4));
        using var v = Volume.Format(device, TestPools.Small(), Options);
        for (var i = 0; i < blocks; i++)
            v.Write(i * 7, Content.Of(1 + (i % 2), i));
        return device;
    }

    private static void FlipByte(IBlockDevice device, long pbn, int offset)
    {
        var block = new byte[VdoConstants.BlockSize];
        device.Read(pbn, block);
        block[offset] ^= 0x5A;
        device.Write(pbn, block);
    }

    private static Geometry GeometryOf(IBlockDevice device)
    {
        var block = new byte[VdoConstants.BlockSize];
        device.Read(0, block);
        return Geometry.Decode(block, device.BlockCount);
    }

    [Test]
    public void ACorruptGeometryFailsTheOpenNamingIt()
    {
        var device = CleanPool();
        FlipByte(device, 0, 100);
        var e = Assert.Throws<CorruptMetadataException>(() => Volume.Open(device, Options));
        Assert.That(e!.Message, Does.Contain("geometry"));
    }

    [Test]
    public void SomethingThatIsNotAPoolIsRefusedClearly()
    {
        var device = new MemoryBlockDevice(4096);
        device.Write(0, Content.Random(1));
        var e = Assert.Throws<CorruptMetadataException>(() => Volume.Open(device, Options));
        Assert.That(e!.Message, Does.Contain("DataflowVdo pool"));
    }

    [Test]
    public void OneDamagedSuperblockCopyIsSurvivedBothAreNamed()
    {
        var device = CleanPool();
        FlipByte(device, 1, 200);
        using (var v = Volume.Open(device, Options))
        {
            var buffer = new byte[VdoConstants.BlockSize];
            v.Read(7, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Of(2, 1)));
        }
        FlipByte(device, 1, 300);
        FlipByte(device, 2, 300);
        var e = Assert.Throws<CorruptMetadataException>(() => Volume.Open(device, Options));
        Assert.That(e!.Message, Does.Contain("superblock"));
    }

    [Test]
    public void ACorruptBlockMapPageIsNamedByReadsAndByCheckAndStopsWrites()
    {
        // Pages load on demand (opening a large pool reads none of them), so the damage shows
        // at the first access: the read fails naming the page, the volume refuses writes, and
        // check lists it.
        var device = CleanPool();
        var g = GeometryOf(device);
        var rootBlock = new byte[VdoConstants.BlockSize];
        device.Read(g.RootStart, rootBlock);
        var firstPage = BlockMapping.Decode(MetadataBlock.Payload(rootBlock.AsSpan())).Pbn;
        FlipByte(device, firstPage, 2000);
        using var v = Volume.Open(device, Options);
        Assert.That(v.Check(), Has.Some.Contains("block-map page 0"));
        var e = Assert.Throws<CorruptMetadataException>(() => v.Read(7, new byte[VdoConstants.BlockSize]));
        Assert.That(e!.Message, Does.Contain("block-map page 0"));
        Assert.That(Assert.Throws<ReadOnlyVolumeException>(() => v.Write(1, Content.Random(1)))!.Message, Does.Contain("block-map page 0"));
    }

    [Test]
    public void ACorruptReferenceCountBlockFailsTheOpenNamingIt()
    {
        var device = CleanPool();
        var g = GeometryOf(device);
        FlipByte(device, g.RefCountStart(0), 50);
        var e = Assert.Throws<CorruptMetadataException>(() => Volume.Open(device, Options));
        Assert.That(e!.Message, Does.Contain("reference-count block 0 of slab 0"));
    }

    [Test]
    public void AnImpossibleJournalEntryFailsRecoveryNamingTheJournal()
    {
        var device = new CrashSimulatingDevice(TestPools.DeviceBlocks(slabs: 4));
        var v = Volume.Format(device, TestPools.Small(), Options);
        for (var i = 0; i < 10; i++)
            v.Write(i, Content.Random(i));
        v.Flush(); // the journal block is durable; the volume is never closed
        using var image = device.Crash(new Random(1), tear: false, keep: 0);
        var g = GeometryOf(image);
        var block = new byte[VdoConstants.BlockSize];
        var location = g.JournalStart + 1; // sequence 1 is the first block
        image.Read(location, block);
        var count = JournalBlockFormat.Parse(block, 1, g.Nonce, out _);
        Assert.That(count, Is.GreaterThan(5));
        var entry = JournalEntry.Decode(block.AsSpan(JournalBlockFormat.EntryOffset(count - 1), JournalEntry.EncodedSize));
        (entry with { New = new BlockMapping(g.PhysicalBlocks + 5, MappingState.Uncompressed) })
            .Encode(block.AsSpan(JournalBlockFormat.EntryOffset(count - 1), JournalEntry.EncodedSize));
        JournalBlockFormat.Seal(block, 1, count, g.Nonce);
        image.Write(location, block);
        var e = Assert.Throws<CorruptMetadataException>(() => Volume.Open(image, Options));
        Assert.That(e!.Message, Does.Contain("recovery journal"));
    }

    [Test]
    public void ADamagedPageFoundWhileRunningMakesTheVolumeReadOnlyNotCrash()
    {
        var device = CleanPool();
        var g = GeometryOf(device);
        var hooks = new VolumeHooks { BlockMapCachePages = 2 };
        // Open cleanly first (pages are checked while counting), then damage a page on disk.
        // One logical zone, so the two cached pages are one LRU that the write below cycles.
        using var v = Volume.Open(device, TestPools.Options(scheme, o => o.Pipeline.LogicalZones = 1), hooks);
        var rootBlock = new byte[VdoConstants.BlockSize];
        device.Read(g.RootStart, rootBlock);
        var page1 = BlockMapping.Decode(MetadataBlock.Payload(rootBlock.AsSpan())[BlockMapping.EncodedSize..]).Pbn;
        Assert.That(page1, Is.Not.Zero);
        var buffer = new byte[VdoConstants.BlockSize];
        var inPage1 = 7 * ((Geometry.EntriesPerPage / 7) + 1); // the first LBN the pool wrote in page 1
        v.Read(inPage1, buffer); // page 1
        v.Read(0, buffer); // page 0
        v.Write(2000, Content.Random(2000)); // another page: the cache holds 2, so page 1 leaves it
        FlipByte(device, page1, 1000);
        var e = Assert.Throws<CorruptMetadataException>(() => v.Read(inPage1, buffer));
        Assert.That(e!.Message, Does.Contain("block-map page 1"));
        var w = Assert.Throws<ReadOnlyVolumeException>(() => v.Write(5, Content.Random(5)));
        Assert.That(w!.Message, Does.Contain("block-map page 1"));
        v.Read(0, buffer); // undamaged data stays readable
        Assert.That(buffer, Is.EqualTo(Content.Of(1, 0)));
    }

    [Test]
    public void WrongBlockSizesAndAddressesAreRejected()
    {
        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), Options);
        Assert.That(Assert.Throws<ArgumentException>(() => v.Write(0, new byte[100]))!.Message, Does.Contain("4096"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => v.Write(4096, new byte[4096]))!.Message, Does.Contain("outside the logical space"));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.Read(-1, new byte[4096]));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.Discard(4000, 200));
    }

    [Test]
    public void BadFormatParametersAreExplained()
    {
        var device = new MemoryBlockDevice(2048);
        Assert.That(Assert.Throws<ArgumentException>(() => Volume.Format(device, TestPools.Small() with { SlabBlocks = 1000 }))!.Message, Does.Contain("power of two"));
        Assert.That(Assert.Throws<ArgumentException>(() => Volume.Format(device, TestPools.Small() with { SlabBlocks = 4096 }))!.Message, Does.Contain("too small"));
        Assert.That(Assert.Throws<ArgumentException>(() => Volume.Format(device, TestPools.Small() with { PhysicalBlocks = 5000 }))!.Message, Does.Contain("exceeds the device"));
    }

    [Test]
    public void AFullPoolSaysSoLosesNothingAndRecoversSpaceAfterDiscard()
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(slabs: 1));
        using var v = Volume.Format(device, TestPools.Small(), Options);
        var written = 0;
        var e = Assert.Throws<OutOfSpaceException>(() =>
        {
            for (; written < 4096; written++)
                v.Write(written, Content.Random(written));
        });
        Assert.That(e!.Message, Does.Contain("full"));
        Assert.That(written, Is.GreaterThan(900));
        var buffer = new byte[VdoConstants.BlockSize];
        for (var i = 0; i < written; i += 13)
        {
            v.Read(i, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Random(i)), $"LBN {i} was acknowledged before the pool filled");
        }
        Assert.That(v.Check(), Is.Empty);
        v.Discard(0, 100);
        v.Flush();
        v.Write(written, Content.Random(written)); // space came back
        v.Read(written, buffer);
        Assert.That(buffer, Is.EqualTo(Content.Random(written)));
        Assert.That(v.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(120_000)]
    public void WritesNeedingABlockMapPageInAFullPoolFailOneByOneAndSucceedOnceSpaceIsBack()
    {
        // Several slabs, so with several physical zones a full zone hands allocations to the next.
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(slabs: 2));
        using (var guard = new HangGuard(Volume.Format(device, TestPools.Small(), Options)))
        {
            var v = guard.Volume;
            var written = 0;
            Assert.Throws<OutOfSpaceException>(() =>
            {
                for (; written < 3240; written++) // pages 0..3 only
                    v.Write(written, Content.Random(written));
            });
            Assert.That(written, Is.GreaterThan(1900), "the slabs filled");
            // LBN 4000 is on a page nobody touched: each write needs a block for the page and finds none.
            // A failed page allocation must not leave the page "in progress" with later writes waiting on it.
            for (var lbn = 4000; lbn < 4004; lbn++)
            {
                var error = guard.Run(x => x.Write(lbn, Content.Random(lbn)), $"write of LBN {lbn} on a new page in a full pool");
                Assert.That(error, Is.InstanceOf<OutOfSpaceException>(), $"write of LBN {lbn} on a new page in a full pool");
            }
            v.Discard(0, 200);
            v.Flush();
            Assert.That(guard.Run(x => x.Write(4000, Content.Random(4000)), "the write after space came back"), Is.Null);
            var buffer = new byte[VdoConstants.BlockSize];
            v.Read(4000, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Random(4000)));
            v.Read(written - 1, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Random(written - 1)), "the last write acknowledged before the pool filled");
            Assert.That(v.Check(), Is.Empty);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public void ADataReadErrorFailsThatReadOnlyAndTheLbnStaysUsable()
    {
        var device = new FaultInjectingDevice(new CrashSimulatingDevice(TestPools.DeviceBlocks()));
        using (var guard = new HangGuard(Volume.Format(device, TestPools.Small(), Options)))
        {
            var v = guard.Volume;
            v.Write(5, Content.Random(5));
            v.Write(6, Content.Compressible(6));
            v.Flush();
            var buffer = new byte[VdoConstants.BlockSize];
            v.Read(5, buffer); // the block-map page is cached now: the next device read is the data
            var dataPbn = -1L;
            device.FailNextRead = pbn =>
            {
                dataPbn = pbn;
                return true;
            };
            var e = Assert.Throws(Is.InstanceOf<IOException>(), () => v.Read(5, buffer));
            Assert.That(e!.Message, Does.Contain($"PBN {dataPbn}"));
            // The read gave its LBN back: a write and a read of it go through, and the volume is not read-only.
            Assert.That(guard.Run(x => x.Write(5, Content.Random(50)), "a write of the LBN after its failed read"), Is.Null);
            v.Read(5, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Random(50)));
            v.Read(6, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Compressible(6)));
            v.Flush();
            Assert.That(v.Check(), Is.Empty);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public void AWriteWhoseDedupeVerifyReadFailsGivesItsPinBackAndTheVolumeStillClosesAndRecovers()
    {
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var device = new FaultInjectingDevice(inner);
        using (var guard = new HangGuard(Volume.Format(device, TestPools.Small(), Options)))
        {
            var v = guard.Volume;
            v.Write(1, Content.Random(1));
            v.Flush();
            var buffer = new byte[VdoConstants.BlockSize];
            v.Read(2, buffer); // LBN 2's block-map page (page 0) is cached: the next device read is the verify
            device.FailNextRead = _ => true;
            var error = guard.Run(x => x.Write(2, Content.Random(1)), "the failed duplicate write"); // a duplicate: pin LBN 1's block, then verify it
            Assert.That(device.FailNextRead, Is.Null, "the injected read error fired (the verify read)");
            Assert.That(error, Is.InstanceOf<IOException>().Or.InstanceOf<ReadOnlyVolumeException>());
            Assert.That(() => v.Write(3, Content.Random(3)), Throws.Nothing, "a failed verify read fails that writer only; the volume stays writable");
            v.Read(1, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Random(1)), "what was flushed stays readable");
        }
        using var reopened = Volume.Open(device, Options);
        var back = new byte[VdoConstants.BlockSize];
        reopened.Read(1, back);
        Assert.That(back, Is.EqualTo(Content.Random(1)));
        Assert.That(reopened.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(60_000)]
    public void AFailedDataWriteOfAMultiBlockRequestLeavesEveryBlockOldOrNewAndTheVolumeRecovers()
    {
        // Inline writes a request's data outside its lock, after the blocks are allocated: a
        // failure there must drop those blocks (old mappings stay), not map them to unwritten blocks.
        const int Blocks = 24;
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var device = new FaultInjectingDevice(inner);
        var old = new byte[Blocks * VdoConstants.BlockSize];
        var fresh = new byte[Blocks * VdoConstants.BlockSize];
        for (var i = 0; i < Blocks; i++)
        {
            Content.Random(300 + i).CopyTo(old, i * VdoConstants.BlockSize);
            Content.Random(400 + i).CopyTo(fresh, i * VdoConstants.BlockSize);
        }
        bool OldOrNew(byte[] read, int i) =>
            read.AsSpan(i * VdoConstants.BlockSize, VdoConstants.BlockSize).SequenceEqual(old.AsSpan(i * VdoConstants.BlockSize, VdoConstants.BlockSize))
            || read.AsSpan(i * VdoConstants.BlockSize, VdoConstants.BlockSize).SequenceEqual(fresh.AsSpan(i * VdoConstants.BlockSize, VdoConstants.BlockSize));
        using (var guard = new HangGuard(Volume.Format(device, TestPools.Small(), Options)))
        {
            var v = guard.Volume;
            v.WriteBlocks(0, old);
            v.Flush();
            var geometry = GeometryOf(inner);
            device.FailNextWrite = geometry.IsDataBlock; // the first data block of the next request
            var error = guard.Run(x => x.WriteBlocks(0, fresh), "the failing multi-block write");
            Assert.That(device.FailNextWrite, Is.Null, "the injected write error fired");
            Assert.That(error, Is.InstanceOf<IOException>().Or.InstanceOf<ReadOnlyVolumeException>());
            Assert.That(() => v.Write(100, Content.Random(3)), Throws.Nothing, "a failed data write fails that writer only; the volume stays writable");
            var read = new byte[old.Length];
            for (var i = 0; i < Blocks; i++)
            {
                var one = new byte[VdoConstants.BlockSize];
                try
                {
                    v.Read(i, one);
                }
                catch (IOException)
                {
                    continue; // refusing to read is allowed; returning another block's data is not
                }
                one.CopyTo(read, i * VdoConstants.BlockSize);
                Assert.That(OldOrNew(read, i), $"LBN {i} after the failure reads neither its old nor its new data");
            }
        }
        using var reopened = Volume.Open(device, Options);
        var back = new byte[old.Length];
        reopened.ReadBlocks(0, back);
        for (var i = 0; i < Blocks; i++)
            Assert.That(OldOrNew(back, i), $"LBN {i} after reopen reads neither its old nor its new data");
        Assert.That(reopened.Check(), Is.Empty);
    }

    /// <summary>
    /// Runs calls on a volume with a deadline: a call that hangs fails the test instead of hanging
    /// it, and the volume is then left open (closing would wait forever for the stuck request).
    /// </summary>
    private sealed class HangGuard(Volume volume) : IDisposable
    {
        private bool _hung;

        public Volume Volume => volume;

        /// <summary>Runs <paramref name="call"/>; returns what it threw (null when it succeeded).</summary>
        public Exception? Run(Action<Volume> call, string what)
        {
            var task = Task.Run(() => call(volume));
            _hung = !((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(30));
            Assert.That(_hung, Is.False, $"{what} hung");
            return task.Exception?.InnerException;
        }

        public void Dispose()
        {
            if (!_hung)
                volume.Dispose();
        }
    }
}
