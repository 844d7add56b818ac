using DataflowVdo.Blocks.Chunking;

namespace DataflowVdo.Tests.Backup;

/// <summary>The content-defined chunker: what dedupe of shifted backups relies on.</summary>
public sealed class ChunkerTests
{
    private static readonly ChunkerParameters Small = new() { MinBytes = 2048, AverageBytes = 8192, MaxBytes = 32768 };

    private static List<int> Cuts(GearChunker chunker, ReadOnlySpan<byte> data)
    {
        var cuts = new List<int>();
        var position = 0;
        while (position < data.Length)
        {
            var n = chunker.FindCut(data[position..], final: true);
            Assert.That(n, Is.GreaterThan(0));
            position += n;
            cuts.Add(position);
        }
        return cuts;
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Test]
    public void CutPointsAreDeterministicForAKeyAndDifferForAnotherKey()
    {
        var data = RandomBytes(2 << 20, 1);
        var first = Cuts(new GearChunker(GearTable.ForPool(7), Small), data);
        var again = Cuts(new GearChunker(GearTable.ForPool(7), Small), data);
        var otherPool = Cuts(new GearChunker(GearTable.ForPool(8), Small), data);
        Assert.That(again, Is.EqualTo(first));
        Assert.That(otherPool, Is.Not.EqualTo(first));
        // Almost no cut of one pool is a cut of the other: the key really changes the hash.
        Assert.That(first.Intersect(otherPool).Count(), Is.LessThan(first.Count / 4));
    }

    [Test]
    public void ChunksRespectTheSizesAndAverageNearTheTarget()
    {
        var data = RandomBytes(8 << 20, 2);
        var cuts = Cuts(new GearChunker(GearTable.ForPool(3), Small), data);
        var sizes = cuts.Zip(cuts.Prepend(0), (end, start) => end - start).ToList();
        Assert.That(sizes.Take(sizes.Count - 1), Has.All.InRange(Small.MinBytes, Small.MaxBytes));
        Assert.That(sizes.Average(), Is.InRange(Small.AverageBytes * 0.75, Small.AverageBytes * 2.0));
        // Normalized chunking: few chunks are cut by force at the maximum.
        Assert.That(sizes.Count(s => s == Small.MaxBytes), Is.LessThan(sizes.Count / 50));
    }

    [Test]
    public void AnInsertionChangesOnlyTheChunksAroundIt()
    {
        var data = RandomBytes(4 << 20, 4);
        var chunker = new GearChunker(GearTable.ForPool(5), Small);
        const int at = 2 << 20;
        var inserted = RandomBytes(100, 6);
        var edited = data[..at].Concat(inserted).Concat(data[at..]).ToArray();
        var before = Cuts(chunker, data);
        var after = Cuts(chunker, edited);
        // Cuts before the insertion are identical; after it they are the same positions shifted.
        Assert.That(after.Where(c => c < at), Is.EqualTo(before.Where(c => c < at)));
        var shiftedBack = after.Where(c => c > at + inserted.Length).Select(c => c - inserted.Length).ToHashSet();
        var lost = before.Where(c => c > at).Count(c => !shiftedBack.Contains(c));
        Assert.That(lost, Is.LessThanOrEqualTo(2), "only the chunks around the insertion may change");
        Assert.That(before.Count(c => c > at), Is.GreaterThan(100));
    }

    [Test]
    public void AShortStreamIsOneChunkAndAnUnfinishedOneAsksForMore()
    {
        var chunker = new GearChunker(GearTable.ForPool(1), Small);
        var data = RandomBytes(Small.MinBytes + 10, 9);
        Assert.That(chunker.FindCut(data.AsSpan(0, 100), final: true), Is.EqualTo(100));
        Assert.That(chunker.FindCut([], final: true), Is.Zero);
        // Fewer than the maximum bytes, not the end of the stream, and no cut: ask for more.
        var zeros = new byte[Small.MaxBytes - 1];
        Assert.That(chunker.FindCut(zeros, final: false), Is.EqualTo(-1));
        Assert.That(chunker.FindCut(new byte[Small.MaxBytes + 5], final: false), Is.EqualTo(Small.MaxBytes));
    }

    [Test]
    public void BadSizesAreRefusedWithTheReason()
    {
        var e = Assert.Throws<ArgumentException>(() => _ = new GearChunker(GearTable.ForPool(1), new ChunkerParameters { AverageBytes = 3000 }));
        Assert.That(e!.Message, Does.Contain("power of two"));
    }
}
