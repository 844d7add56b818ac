using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// I/O errors from the device (issue 21): a failed data write fails that writer only; a failed
/// metadata write or flush puts the pool in read-only mode, recorded in the superblock so that
/// it survives a restart; intact data stays readable; nothing acknowledged as flushed is lost;
/// <see cref="Volume.Repair"/> returns the pool to service.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class FaultInjectionTests(SchemeCase scheme)
{
    private readonly VolumeHooks _hooks = new() { BlockMapCachePages = 1024 };

    [Test]
    [CancelAfter(120_000)]
    public void AFailedSlabJournalWriteFailsThePoolAndNoRequestIsLost([Range(0, 11)] int seed)
    {
        // Overwrites and duplicates make reference changes that the physical zone applies (its
        // slab journals write them out) either by a drain token or before its next step; either way
        // a failed write there must fail the pool and unwind the requests in flight, never lose
        // one (a lost request left every later flush waiting: crash torture, Inline).
        var random = new Random(seed);
        var device = new FaultInjectingDevice(new CrashSimulatingDevice(TestPools.DeviceBlocks()));
        var volume = Volume.Format(device, TestPools.Small(), TestPools.Options(scheme), _hooks);
        var g = volume.Geometry;
        var cut = random.Next(50, 400);
        var failed = false;
        for (var k = 0; k < 1500 && volume.ReadOnlyReason is null; k++)
        {
            if (k == cut)
                device.FailWritesAt = pbn => Enumerable.Range(0, g.SlabCount).Any(s => pbn >= g.SlabJournalStart(s) && pbn < g.SlabDataStart(s));
            try
            {
                if (random.Next(10) == 0)
                    volume.Flush();
                else
                    volume.WriteBlocks(random.Next(64), Enumerable.Range(0, 1 + random.Next(4)).SelectMany(_ => Content.Of(random.Next(3), random.Next(8))).ToArray());
            }
            catch (Exception e) when (e is IOException or ReadOnlyVolumeException)
            {
                failed = true;
            }
        }
        Assert.That(device.Injected.Writes, Is.GreaterThan(0), "precondition: a slab-journal write failed");
        Assert.That(volume.ReadOnlyReason, Is.Not.Null.And.Contains("injected"), "the pool is read-only and says why");
        Assert.That(failed || Assert.Catch(() => volume.Flush()) is not null, Is.True, "the failure reaches a caller");
        volume.Dispose(); // returns: no request was lost (a lost one made this wait for ever)
    }

    [Test]
    public void AFailedDataWriteFailsThatWriterOnly([Values(1, 4)] int blocks)
    {
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var device = new FaultInjectingDevice(inner);
        var options = TestPools.Options(scheme);
        var volume = Volume.Format(device, TestPools.Small(), options, _hooks);
        for (var lbn = 0; lbn < 8; lbn++)
            volume.Write(lbn, Content.Random(lbn));
        volume.Flush();
        var g = volume.Geometry;

        device.FailNextWrite = g.IsDataBlock; // one EIO on the next data-block write
        var failed = Enumerable.Range(100, blocks).SelectMany(Content.Random).ToArray();
        Assert.Throws<IOException>(() => volume.WriteBlocks(3, failed), "the writer whose data write failed gets the error");
        Assert.That(device.Injected.Writes, Is.EqualTo(1), "precondition: the error was injected");
        Assert.That(volume.ReadOnlyReason, Is.Null, "a failed data write must not fail the pool");

        // Other writers, and the same one again, go on; the failed LBN kept its old data (or the new, never a mix).
        volume.Write(20, Content.Random(20));
        volume.Write(21, Content.Compressible(21));
        volume.Flush();
        var buffer = new byte[VdoConstants.BlockSize];
        for (var lbn = 3; lbn < 3 + blocks; lbn++)
        {
            volume.Read(lbn, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Random(lbn)).Or.EqualTo(Content.Random(100 + lbn - 3)), $"LBN {lbn} after its write failed");
        }
        volume.Write(3, Content.Random(300));
        volume.Flush();
        Assert.That(volume.Check(), Is.Empty, "a failed data write leaks no block and leaves no count wrong");

        using var recovered = Volume.Open(CrashImages.Load(inner.Crash(new Random(1), tear: false, keep: 0)), options, _hooks);
        recovered.Read(3, buffer);
        Assert.That(buffer, Is.EqualTo(Content.Random(300)));
        recovered.Read(20, buffer);
        Assert.That(buffer, Is.EqualTo(Content.Random(20)));
        recovered.Read(21, buffer);
        Assert.That(buffer, Is.EqualTo(Content.Compressible(21)));
        Assert.That(recovered.ReadOnlyReason, Is.Null);
        Assert.That(recovered.Check(), Is.Empty);
    }

    [Test]
    public void AFailedMetadataWriteOrFlushEntersReadOnlyModeThatSurvivesARestartUntilRepaired([Values("journal", "flush")] string fault)
    {
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var device = new FaultInjectingDevice(inner);
        var options = TestPools.Options(scheme);
        var volume = Volume.Format(device, TestPools.Small(), options, _hooks);
        for (var lbn = 0; lbn < 40; lbn++)
            volume.Write(lbn, Content.Of(1 + (lbn % 2), lbn));
        volume.Flush(); // LBNs 0..39 acknowledged as flushed
        var g = volume.Geometry;

        if (fault == "journal")
            device.FailWritesAt = pbn => pbn >= g.JournalStart && pbn < g.JournalStart + g.JournalBlocks; // a bad journal region
        else
            device.FailFlushes = 1; // one failed flush
        Assert.Catch(() =>
        {
            for (var lbn = 40; lbn < 48; lbn++)
                volume.Write(lbn, Content.Random(lbn));
            volume.Flush();
        }, "the failure reaches a caller");
        var reason = volume.ReadOnlyReason;
        Assert.That(reason, Is.Not.Null.And.Contains("injected"), "the pool is read-only and says why");
        Assert.That(volume.GetStatistics().ReadOnly, Is.True);
        Assert.Throws<ReadOnlyVolumeException>(() => volume.Write(1, Content.Random(999)), "read-only mode refuses writes");
        var buffer = new byte[VdoConstants.BlockSize];
        for (var lbn = 0; lbn < 40; lbn++)
        {
            volume.Read(lbn, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Of(1 + (lbn % 2), lbn)), $"intact LBN {lbn} stays readable in read-only mode");
        }
        volume.Dispose();
        device.FailWritesAt = null;
        device.FailFlushes = 0;

        // A power cut now: what was flushed survives, and the pool comes back still read-only.
        using (var reopened = Volume.Open(CrashImages.Load(inner.Crash(new Random(2), tear: true, keep: 0.5)), options, _hooks))
        {
            Assert.That(reopened.ReadOnlyReason, Is.EqualTo(reason), "read-only mode is kept in the superblock");
            Assert.That(reopened.GetStatistics().ReadOnly, Is.True);
            Assert.Throws<ReadOnlyVolumeException>(() => reopened.Write(0, Content.Random(998)));
            for (var lbn = 0; lbn < 40; lbn++)
            {
                reopened.Read(lbn, buffer);
                Assert.That(buffer, Is.EqualTo(Content.Of(1 + (lbn % 2), lbn)), $"flushed LBN {lbn} after the restart");
            }
        }

        var image = inner.Crash(new Random(2), tear: true, keep: 0.5);
        using (var repaired = Volume.Open(CrashImages.Load(image), options, _hooks))
        {
            var result = repaired.Repair();
            Assert.That(result.ClearedReadOnlyReason, Is.EqualTo(reason));
            Assert.That(repaired.ReadOnlyReason, Is.Null);
            repaired.Write(0, Content.Random(997));
            repaired.Flush();
            Assert.That(repaired.Check(), Is.Empty);
        }
    }

    [Test]
    public void RepairRebuildsWrongReferenceCountsFromTheBlockMapAndReportsEachChange()
    {
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var options = TestPools.Options(scheme);
        var g = default(Geometry);
        long victim;
        using (var volume = Volume.Format(inner, TestPools.Small(), options, _hooks))
        {
            g = volume.Geometry;
            for (var lbn = 0; lbn < 16; lbn++)
                volume.Write(lbn, Content.Random(lbn % 8)); // every block shared by two LBNs
        }
        // Damage one ref-count value on disk (the block checksum resealed: a bug, not bit rot).
        var block = new byte[VdoConstants.BlockSize];
        inner.Read(g!.RefCountStart(0), block);
        var counts = MetadataBlock.Payload(block.AsSpan())[Geometry.RefCountHeaderSize..];
        var sbn = counts.IndexOf((byte)2);
        Assert.That(sbn, Is.GreaterThanOrEqualTo(0), "precondition: a shared block in slab 0");
        victim = g.SlabDataStart(0) + sbn;
        counts[sbn] = 7;
        MetadataBlock.Seal(block, MetadataKind.RefCounts, g.Nonce, 0);
        inner.Write(g.RefCountStart(0), block);
        inner.Flush();

        using var damaged = Volume.Open(inner, options, _hooks);
        Assert.That(damaged.Check(), Has.Some.Contains($"PBN {victim} has reference count 7 but 2 mapping(s)"));
        var result = damaged.Repair();
        Assert.That(result.Changes, Is.EqualTo(new[] { $"PBN {victim}: reference count 7 -> 2 (2 mapping(s))" }));
        Assert.That(damaged.Check(), Is.Empty);
        damaged.Discard(0, 16); // the counts are right again: every block frees
        Assert.That(damaged.Check(), Is.Empty);
        Assert.That(damaged.GetStatistics().DataBlocksUsed, Is.Zero);
    }

    [Test]
    [CancelAfter(120_000)]
    public void RandomFaultsNeverLoseAFlushedWriteNorReturnWrongData([Range(0, 5)] int seed)
    {
        const int Lbns = 64;
        var random = new Random(seed);
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var device = new FaultInjectingDevice(inner, seed);
        var options = TestPools.Options(scheme);
        var hooks = new VolumeHooks { BlockMapCachePages = random.Next(2) == 0 ? 8 : 1024 };
        var volume = Volume.Format(device, TestPools.Small(), options, hooks);
        (device.ReadErrorRate, device.WriteErrorRate, device.FlushErrorRate) = (0.002, 0.004, 0.01);
        var durable = new byte[Lbns][];
        var possible = new List<byte[]>[Lbns];
        var zero = new byte[VdoConstants.BlockSize];
        for (var i = 0; i < Lbns; i++)
        {
            durable[i] = zero;
            possible[i] = [];
        }
        var buffer = new byte[VdoConstants.BlockSize];
        for (var k = 0; k < 3000 && volume.ReadOnlyReason is null; k++)
        {
            var lbn = random.Next(Lbns);
            var op = random.Next(100);
            try
            {
                if (op < 8)
                {
                    volume.Flush();
                    for (var i = 0; i < Lbns; i++)
                    {
                        if (possible[i].Count > 0)
                            durable[i] = possible[i][^1];
                        possible[i].Clear();
                    }
                }
                else if (op < 82)
                {
                    // zero, random and compressible, with duplicates; or a discard
                    var data = op < 75 ? Content.Of(random.Next(3), random.Next(40)) : zero;
                    try
                    {
                        if (op < 75)
                            volume.Write(lbn, data);
                        else
                            volume.Discard(lbn);
                    }
                    catch when (volume.ReadOnlyReason is not null)
                    {
                        possible[lbn].Add(data); // it failed the pool part-way: it may have landed
                        throw;
                    }
                    possible[lbn].Add(data);
                }
                else
                {
                    volume.Read(lbn, buffer);
                    var latest = possible[lbn].Count > 0 ? possible[lbn][^1] : durable[lbn];
                    Assert.That(buffer, Is.EqualTo(latest), $"seed {seed}: LBN {lbn} read back at step {k}");
                }
            }
            catch (Exception e) when (e is IOException or ReadOnlyVolumeException)
            {
                // A failed write or discard changes nothing; a failed flush leaves what it covered possible.
            }
        }
        var (reads, writes, flushes) = device.Injected;
        Assert.That(reads + writes + flushes, Is.GreaterThan(0), "precondition: errors were injected");
        device.ReadErrorRate = device.WriteErrorRate = device.FlushErrorRate = 0;
        if (volume.ReadOnlyReason is not null)
        {
            // Read-only: every intact LBN reads as a value it was given (a write lost with the failure reads as before).
            for (var lbn = 0; lbn < Lbns; lbn++)
            {
                volume.Read(lbn, buffer);
                Assert.That(possible[lbn].Prepend(durable[lbn]).Any(a => a.AsSpan().SequenceEqual(buffer)), Is.True, $"seed {seed}: LBN {lbn} in read-only mode");
            }
        }

        using var recovered = Volume.Open(CrashImages.Load(inner.Crash(random, tear: true)), options, hooks);
        for (var lbn = 0; lbn < Lbns; lbn++)
        {
            recovered.Read(lbn, buffer);
            Assert.That(possible[lbn].Prepend(durable[lbn]).Any(a => a.AsSpan().SequenceEqual(buffer)), Is.True,
                $"seed {seed}: LBN {lbn} after recovery reads neither its flushed value nor one written since");
        }
        if (recovered.ReadOnlyReason is not null)
            recovered.Repair();
        Assert.That(recovered.Check(), Is.Empty, $"seed {seed}: check after recovery");
    }
}
