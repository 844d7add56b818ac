using System.IO.Hashing;
using DataflowVdo.Workloads;

namespace DataflowVdo.Tests.Workloads;

[TestFixture]
public sealed class BlockGeneratorTests
{
    private const int B = BlockBytes.Size;

    private static IEnumerable<WorkloadMix> NamedMixes() => WorkloadMix.All;

    private static BlockSet Generate(WorkloadMix mix, long seed, string corpusPath, int count, int window = BlockGenerator.DefaultDuplicateWindow)
    {
        using var corpus = new Corpus(corpusPath);
        return BlockSet.Generate(new BlockGenerator(mix, seed, corpus, window), count);
    }

    [TestCaseSource(nameof(NamedMixes))]
    public void Same_seed_gives_the_same_bytes(WorkloadMix mix)
    {
        using var folder = TempCorpusFolder.WithTextFiles();

        var first = Generate(mix, seed: 42, folder.Path, count: 2_000);
        var second = Generate(mix, seed: 42, folder.Path, count: 2_000);

        Assert.That(second.Kinds, Is.EqualTo(first.Kinds));
        Assert.That(second.Data.AsSpan().SequenceEqual(first.Data), Is.True);
    }

    [Test]
    public void Different_seeds_give_different_bytes()
    {
        var first = BlockSet.Generate(new BlockGenerator(WorkloadMix.Dup50, seed: 1), 100);
        var second = BlockSet.Generate(new BlockGenerator(WorkloadMix.Dup50, seed: 2), 100);

        Assert.That(second.Data.AsSpan().SequenceEqual(first.Data), Is.False);
    }

    [TestCaseSource(nameof(NamedMixes))]
    public void Mix_percentages_hold_over_20000_blocks(WorkloadMix mix)
    {
        using var folder = TempCorpusFolder.WithTextFiles();
        const int Count = 20_000;

        var set = Generate(mix, seed: 7, folder.Path, Count);

        // One standard deviation is at most 0.35 points at this count; 1.5 points is over 4 sigma.
        Assert.Multiple(() =>
        {
            foreach (var kind in Enum.GetValues<BlockKind>())
            {
                double percent = 100.0 * set.CountOf(kind) / Count;
                Assert.That(percent, Is.EqualTo(mix.PercentOf(kind)).Within(1.5), $"{mix.Name}: {kind}");
            }
        });
    }

    [Test]
    public void Kinds_describe_the_contents()
    {
        using var folder = TempCorpusFolder.WithTextFiles();
        var set = Generate(WorkloadMix.Mixed, seed: 3, folder.Path, 2_000);
        byte[] scratch = new byte[BlockBytes.Lz4ScratchSize];

        Assert.Multiple(() =>
        {
            for (int i = 0; i < set.Count; i++)
            {
                bool zero = BlockBytes.IsZero(set[i]);
                Assert.That(zero, Is.EqualTo(set.Kinds[i] == BlockKind.Zero), $"block {i}");
            }
        });
        var unique = BlockSet.Generate(new BlockGenerator(WorkloadMix.Unique, seed: 3), 100);
        Assert.That(unique.MeasureLz4Ratio(), Is.EqualTo(1.0), "random blocks are incompressible");
        Assert.That(BlockBytes.Lz4CompressedSize(unique[0], scratch), Is.EqualTo(B));
    }

    [TestCase(1)]
    [TestCase(16)]
    [TestCase(1000)]
    [TestCase(3000)]
    public void Duplicates_copy_one_of_the_last_N_new_blocks(int window)
    {
        // 90% duplicates over random data: every new block is distinct, so a match names its source.
        var mix = new WorkloadMix("dup-random", zero: 0, duplicate: 90, corpus: 0, random: 10);
        var generator = new BlockGenerator(mix, seed: 11, duplicateWindow: window);
        var newBlocks = new List<UInt128>();
        var maxDistance = 0;
        byte[] block = new byte[B];

        for (int i = 0; i < 40_000; i++)
        {
            generator.Next(block, out var kind);
            var name = XxHash128.HashToUInt128(block);
            if (kind == BlockKind.Duplicate)
            {
                int source = newBlocks.LastIndexOf(name);
                Assert.That(source, Is.GreaterThanOrEqualTo(0), $"block {i} copies no earlier new block");
                int distance = newBlocks.Count - 1 - source;
                Assert.That(distance, Is.LessThan(window), $"block {i} copies a block outside the window");
                maxDistance = Math.Max(maxDistance, distance);
            }
            else
            {
                newBlocks.Add(name);
            }
        }

        Assert.That(maxDistance, Is.EqualTo(window - 1), "the whole window is used, not only recent blocks");
    }

    [Test]
    public void A_duplicate_before_any_new_block_becomes_a_new_block()
    {
        var allDuplicates = new WorkloadMix("all-dup", zero: 0, duplicate: 100, corpus: 0, random: 0);
        var set = BlockSet.Generate(new BlockGenerator(allDuplicates, seed: 5), 10);

        Assert.That(set.Kinds[0], Is.EqualTo(BlockKind.Random));
        Assert.That(set.Kinds.Skip(1), Is.All.EqualTo(BlockKind.Duplicate));
        Assert.That(set[9].SequenceEqual(set[0]), Is.True);
    }

    [Test]
    public void Steady_state_allocates_nothing()
    {
        var generator = new BlockGenerator(WorkloadMix.Dup50, seed: 9, duplicateWindow: 2048);
        byte[] block = new byte[B];
        for (int i = 0; i < 10_000; i++)
        {
            generator.Next(block, out _);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            generator.Next(block, out _);
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void Wrong_block_size_and_missing_corpus_are_rejected()
    {
        var generator = new BlockGenerator(WorkloadMix.Unique, seed: 1);

        Assert.Throws<ArgumentException>(() => generator.Next(new byte[B - 1], out _));
        Assert.Throws<ArgumentException>(() => _ = new BlockGenerator(WorkloadMix.Mixed, seed: 1, corpus: null));
    }

    [Test]
    public void BlockSet_holds_the_generator_stream()
    {
        var set = BlockSet.Generate(new BlockGenerator(WorkloadMix.Dup50, seed: 8), 50);
        var generator = new BlockGenerator(WorkloadMix.Dup50, seed: 8);
        byte[] block = new byte[B];

        for (int i = 0; i < set.Count; i++)
        {
            generator.Next(block, out var kind);
            Assert.That(kind, Is.EqualTo(set.Kinds[i]));
            Assert.That(set[i].SequenceEqual(block), Is.True);
        }
    }
}
