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

    [TestCase(16384, 32768, 131072)]
    [TestCase(2048, 8192, 32768)]
    public void SnappedCutsEndOnA4KiBBoundaryOfTheStreamWithinTheSizes(int min, int average, int max)
    {
        var parameters = new ChunkerParameters { MinBytes = min, AverageBytes = average, MaxBytes = max };
        var random = new Random(min);
        for (var i = 0; i < 10_000; i++)
        {
            var start = random.NextInt64(1L << 40);
            var available = random.Next(1, 2 * max);
            var final = available < max;
            // As the chunker cuts: the rest of a final stream no longer than the minimum, else from the minimum to the most it may be.
            var cut = final && available <= min ? available : random.Next(min, Math.Min(available, max) + 1);
            var snapped = AlignedDuplicates.Snap(start, cut, available, final, parameters);
            Assert.That(snapped, Is.InRange(1, Math.Min(available, max)));
            if (snapped != cut)
            {
                Assert.That((start + snapped) % 4096, Is.Zero, "a cut is only moved onto a boundary");
                Assert.That(snapped, Is.GreaterThanOrEqualTo(min), "nor below the minimum");
            }
            else if ((start + cut) % 4096 != 0 && !(final && cut == available))
            {
                // Kept off a boundary only when no boundary fits between the minimum and the most it may be.
                var firstFit = (start + min + 4095) / 4096 * 4096;
                Assert.That(firstFit - start, Is.GreaterThan(Math.Min(available, max)), $"start {start} cut {cut} available {available}");
            }
        }
        Assert.That(AlignedDuplicates.Snap(8192, 20000, 200000, false, parameters), Is.EqualTo(16384), "down to the last boundary at least the minimum into the chunk");
    }
}
