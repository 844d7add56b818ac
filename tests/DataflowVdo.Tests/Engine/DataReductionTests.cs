using DataflowVdo.Blocks;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>Dedupe, compression and zero elimination change the statistics exactly as a user would compute them.</summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class DataReductionTests(SchemeCase scheme)
{
    private Volume NewVolume(out MemoryBlockDevice device, Action<VdoOptions>? tweak = null, VolumeHooks? hooks = null)
    {
        device = new MemoryBlockDevice(TestPools.DeviceBlocks(slabs: 4));
        return Volume.Format(device, TestPools.Small(), TestPools.Options(scheme, tweak), hooks);
    }

    [Test]
    public void UniqueIncompressibleBlocksEachTakeOneBlock()
    {
        using var v = NewVolume(out _);
        for (var i = 0; i < 100; i++)
            v.Write(i, Content.Random(i));
        v.Flush();
        var s = v.GetStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(s.DataBlocksUsed, Is.EqualTo(100));
            Assert.That(s.LogicalBlocksUsed, Is.EqualTo(100));
            Assert.That(s.SavingPercent, Is.Zero);
            Assert.That(s.Counters.DataBlocksWritten, Is.EqualTo(100));
            Assert.That(s.Counters.CompressedFragmentsWritten, Is.Zero);
        });
    }

    [Test]
    public void DuplicatesShareTheirBlockAndHalveTheSpace()
    {
        using var v = NewVolume(out _);
        for (var i = 0; i < 100; i++)
            v.Write(i, Content.Random(i));
        for (var i = 0; i < 100; i++)
            v.Write(1000 + i, Content.Random(i));
        v.Flush();
        var s = v.GetStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(s.DataBlocksUsed, Is.EqualTo(100));
            Assert.That(s.LogicalBlocksUsed, Is.EqualTo(200));
            Assert.That(s.Counters.DedupeAdviceValid, Is.EqualTo(100));
            Assert.That(s.SavingPercent, Is.EqualTo(50));
            Assert.That(v.Check(), Is.Empty);
        });
    }

    [Test]
    public void ALargeRequestRewritingStoredDataSharesEveryBlock()
    {
        // A second backup of the same data: whole blocks (their candidates in runs) and packed
        // fragments, rewritten in one request elsewhere, take no new space.
        const int Blocks = 200;
        using var v = NewVolume(out _);
        var request = new byte[Blocks * VdoConstants.BlockSize];
        for (var i = 0; i < Blocks; i++)
            (i % 3 == 0 ? Content.Compressible(i) : Content.Random(i)).CopyTo(request, i * VdoConstants.BlockSize);
        v.WriteBlocks(0, request);
        v.Flush();
        var first = v.GetStatistics();
        v.WriteBlocks(1000, request);
        v.Flush();
        var s = v.GetStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(s.DataBlocksUsed, Is.EqualTo(first.DataBlocksUsed), "the rewrite took no new block");
            Assert.That(s.Counters.DedupeAdviceValid - first.Counters.DedupeAdviceValid, Is.EqualTo(Blocks));
            Assert.That(s.LogicalBlocksUsed, Is.EqualTo(2 * Blocks));
            Assert.That(v.Check(), Is.Empty);
        });
        var back = new byte[Blocks * VdoConstants.BlockSize];
        v.ReadBlocks(1000, back);
        Assert.That(back, Is.EqualTo(request));
    }

    [Test]
    public void ACollidingHashInALargeRequestNeverSharesUnequalData()
    {
        // Every block gets the same name, and a request rewrites blocks that are partly the
        // same as the stored ones: each hint is verified, and only equal bytes are shared.
        const int Blocks = 64;
        var hooks = new VolumeHooks { Namer = static _ => 42 };
        using var v = NewVolume(out _, hooks: hooks);
        byte[] Request(int shift)
        {
            var r = new byte[Blocks * VdoConstants.BlockSize];
            for (var i = 0; i < Blocks; i++)
                (i % 2 == 0 ? Content.Compressible((i + shift) % Blocks) : Content.Random((i + shift) % Blocks)).CopyTo(r, i * VdoConstants.BlockSize);
            return r;
        }
        var requests = new[] { Request(0), Request(0), Request(2), Request(1) };
        for (var r = 0; r < requests.Length; r++)
        {
            v.WriteBlocks(r * 100, requests[r]);
            // Stored, not waiting in the packer: the next request's hints then name written
            // blocks, which are verified (a block still being written is only skipped as busy,
            // so without the flush whether any hint is verified depends on timing).
            v.Flush();
        }
        var back = new byte[Blocks * VdoConstants.BlockSize];
        for (var r = 0; r < requests.Length; r++)
        {
            v.ReadBlocks(r * 100, back);
            Assert.That(back, Is.EqualTo(requests[r]), $"request {r}");
        }
        var s = v.GetStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(s.Counters.DedupeAdviceStale, Is.GreaterThan(0));
            Assert.That(v.Check(), Is.Empty);
        });
    }

    [Test]
    public void ZeroBlocksTakeNoSpace()
    {
        using var v = NewVolume(out _);
        for (var i = 0; i < 50; i++)
            v.Write(i, Content.Zero());
        v.Flush();
        var s = v.GetStatistics();
        var buffer = new byte[4096];
        v.Read(7, buffer);
        Assert.Multiple(() =>
        {
            Assert.That(s.DataBlocksUsed, Is.Zero);
            Assert.That(s.LogicalBlocksUsed, Is.EqualTo(50));
            Assert.That(s.Counters.ZeroBlocksWritten, Is.EqualTo(50));
            Assert.That(s.SavingPercent, Is.EqualTo(100));
            Assert.That(buffer, Is.All.Zero);
        });
    }

    [Test]
    public void SmallCompressedBlocksPackFourteenToABlock()
    {
        using var v = NewVolume(out _);
        for (var i = 0; i < 28; i++)
            v.Write(i, Content.Compressible(i));
        v.Flush();
        var s = v.GetStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(s.Counters.CompressedFragmentsWritten, Is.EqualTo(28));
            Assert.That(s.Counters.CompressedBlocksWritten, Is.EqualTo(2));
            Assert.That(s.DataBlocksUsed, Is.EqualTo(2));
            Assert.That(s.SavingPercent, Is.EqualTo(92)); // (28 - 2) / 28
        });
        var buffer = new byte[4096];
        for (var i = 0; i < 28; i++)
        {
            v.Read(i, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Compressible(i)), $"LBN {i}");
        }
    }

    /// <summary>Like fio's "50% compressible" buffers: each 512-byte chunk half random, half zeros (LZ4: ~2,100 bytes, too big for two to share a block).</summary>
    private static byte[] HalfCompressible(int id)
    {
        var b = Content.Random(id);
        for (var chunk = 0; chunk < VdoConstants.BlockSize; chunk += 512)
            b.AsSpan(chunk + 256, 256).Clear();
        return b;
    }

    [Test]
    public void CompressionThatKeepsBeingWastedIsSkippedUntilAProbePacksAgain()
    {
        const int Wasted = 600, Packable = 64;
        using var v = NewVolume(out _, o => o.Pipeline.CompressionProbeAfter = 256);
        var batch = new byte[8 * VdoConstants.BlockSize];
        for (var i = 0; i < Wasted; i += 8)
        {
            for (var j = 0; j < 8; j++)
                HalfCompressible(i + j).CopyTo(batch, j * VdoConstants.BlockSize);
            v.WriteBlocks(i, batch);
        }
        var streak = v.GetStatistics();
        Assert.That(streak.Counters.CompressedFragmentsWritten, Is.LessThanOrEqualTo(1), "no two such fragments share a block (the very first one is tried)");
        // After 256 wasted attempts only one block in 16 is compressed: most of the rest were skipped.
        Assert.That(streak.CompressionSkipped, Is.GreaterThan((Wasted - 256 - 16) * 14 / 16));
        for (var i = 0; i < Packable; i++)
            v.Write(Wasted + i, Content.Compressible(i));
        v.Flush();
        var after = v.GetStatistics();
        Assert.That(after.Counters.CompressedFragmentsWritten, Is.GreaterThanOrEqualTo(Packable - CompressionProbe.ProbeEvery), "a probe found the packable blocks within 16 blocks");
        var back = new byte[VdoConstants.BlockSize];
        for (var i = 0; i < Wasted; i += 37)
        {
            v.Read(i, back);
            Assert.That(back, Is.EqualTo(HalfCompressible(i)));
        }
        for (var i = 0; i < Packable; i++)
        {
            v.Read(Wasted + i, back);
            Assert.That(back, Is.EqualTo(Content.Compressible(i)));
        }
        Assert.That(v.Check(), Is.Empty);
    }

    [Test]
    public void CompressionProbeAfterZeroCompressesEveryBlock()
    {
        using var v = NewVolume(out _, o => o.Pipeline.CompressionProbeAfter = 0);
        for (var i = 0; i < 400; i++)
            v.Write(i, HalfCompressible(i));
        v.Flush();
        Assert.That(v.GetStatistics().CompressionSkipped, Is.Zero);
    }

    [Test]
    public void CompressionOffStoresWholeBlocks()
    {
        using var v = NewVolume(out _, o => o.Pipeline.Compression = false);
        for (var i = 0; i < 28; i++)
            v.Write(i, Content.Compressible(i));
        v.Flush();
        Assert.That(v.GetStatistics().DataBlocksUsed, Is.EqualTo(28));
    }

    [Test]
    public void DedupeOffStoresEveryCopy()
    {
        using var v = NewVolume(out _, o => { o.Pipeline.Dedupe = false; o.Pipeline.Compression = false; });
        for (var i = 0; i < 20; i++)
            v.Write(i, Content.Random(1));
        v.Flush();
        Assert.That(v.GetStatistics().DataBlocksUsed, Is.EqualTo(20));
    }

    [Test]
    public void DiscardGivesTheSpaceBackAndReadsZeros()
    {
        using var v = NewVolume(out _);
        for (var i = 0; i < 100; i++)
            v.Write(i, Content.Of(1 + (i % 2), i));
        v.Flush();
        Assert.That(v.GetStatistics().DataBlocksUsed, Is.GreaterThan(50));
        v.Discard(0, 100);
        v.Flush();
        var s = v.GetStatistics();
        var buffer = new byte[4096];
        v.Read(3, buffer);
        Assert.Multiple(() =>
        {
            Assert.That(s.DataBlocksUsed, Is.Zero);
            Assert.That(s.LogicalBlocksUsed, Is.Zero);
            Assert.That(buffer, Is.All.Zero);
            Assert.That(v.Check(), Is.Empty);
        });
    }

    [Test]
    public void MoreThan254CopiesRollOverToANewBlock()
    {
        using var v = NewVolume(out _);
        var data = Content.Random(5);
        for (var i = 0; i < 300; i++)
            v.Write(i, data);
        v.Flush();
        var s = v.GetStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(s.DataBlocksUsed, Is.EqualTo(2)); // 254 + 46 references
            Assert.That(s.Counters.DedupeRollovers, Is.EqualTo(1));
            Assert.That(s.Counters.DedupeAdviceValid, Is.EqualTo(298));
            Assert.That(v.Check(), Is.Empty);
        });
        var buffer = new byte[4096];
        for (var i = 0; i < 300; i += 37)
        {
            v.Read(i, buffer);
            Assert.That(buffer, Is.EqualTo(data));
        }
    }

    [Test]
    public void CompressedDuplicatesRollOverBeforeTheirPackedBlockReaches254References()
    {
        using var v = NewVolume(out _);
        for (var copy = 0; copy < 40; copy++)
        {
            for (var i = 0; i < 14; i++)
                v.Write((copy * 14) + i, Content.Compressible(i));
        }
        v.Flush();
        Assert.That(v.Check(), Is.Empty);
        var buffer = new byte[4096];
        v.Read(39 * 14 + 3, buffer);
        Assert.That(buffer, Is.EqualTo(Content.Compressible(3)));
    }

    [Test]
    public void ACollidingHashNeverSharesUnequalData()
    {
        // Every block gets the same name: the index and hash locks are wrong for every write.
        var hooks = new VolumeHooks { Namer = static _ => 42 };
        using var v = NewVolume(out _, hooks: hooks);
        for (var i = 0; i < 100; i++)
            v.Write(i, Content.Of(1 + (i % 2), i));
        for (var i = 0; i < 100; i++)
        {
            var buffer = new byte[4096];
            v.Read(i, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Of(1 + (i % 2), i)), $"LBN {i} before flush");
        }
        v.Flush();
        var s = v.GetStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(s.Counters.DedupeAdviceValid, Is.Zero);
            Assert.That(s.Counters.DedupeAdviceStale, Is.GreaterThan(0));
            Assert.That(s.Counters.DataBlocksWritten + s.Counters.CompressedFragmentsWritten, Is.EqualTo(100));
            Assert.That(v.Check(), Is.Empty);
        });
        for (var i = 0; i < 100; i++)
        {
            var buffer = new byte[4096];
            v.Read(i, buffer);
            Assert.That(buffer, Is.EqualTo(Content.Of(1 + (i % 2), i)), $"LBN {i}");
        }
    }

    [Test]
    public void IdenticalWritesInFlightShareOneFragment()
    {
        using var v = NewVolume(out _);
        // The first copy waits in the packer when the others arrive: they join its hash lock.
        for (var i = 0; i < 5; i++)
            v.Write(i, Content.Compressible(9));
        v.Flush();
        var s = v.GetStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(s.Counters.CompressedFragmentsWritten, Is.EqualTo(1));
            Assert.That(s.DataBlocksUsed, Is.EqualTo(1));
            Assert.That(s.LogicalBlocksUsed, Is.EqualTo(5));
        });
    }

    [Test]
    public void StatisticsSurviveACleanReopen()
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(slabs: 4));
        var options = TestPools.Options(scheme);
        using (var v = Volume.Format(device, TestPools.Small(), options))
        {
            for (var i = 0; i < 60; i++)
                v.Write(i, Content.Of(i % 3, i % 20));
        }
        using var reopened = Volume.Open(device, options);
        var s = reopened.GetStatistics();
        Assert.Multiple(() =>
        {
            Assert.That(s.LogicalBlocksUsed, Is.EqualTo(60));
            Assert.That(s.Counters.WritesIn, Is.EqualTo(60));
            Assert.That(s.Counters.JournalEntries, Is.GreaterThanOrEqualTo(60), "every mapping change is journaled");
            Assert.That(s.Counters.JournalBlockWrites, Is.GreaterThan(0));
            Assert.That(s.IndexEntries, Is.GreaterThan(0), "the dedupe index is saved at clean close");
            Assert.That(reopened.Recovered, Is.False);
        });
        // The reloaded index still finds duplicates.
        reopened.Write(100, Content.Of(1, 1));
        reopened.Flush();
        Assert.That(reopened.GetStatistics().Counters.DedupeAdviceValid, Is.GreaterThan(s.Counters.DedupeAdviceValid));
    }

}
