using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Storage;

/// <summary>
/// Where new blocks go: a slab in order while it has free blocks ahead, then the emptiest slab
/// rather than the holes behind, so that a stream of writes on a used pool stays in long runs.
/// </summary>
public sealed class SlabAllocationTests
{
    private static (SlabDepot Depot, Geometry Geometry) NewDepot(int slabs)
    {
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(slabs));
        var geometry = Geometry.Compute(TestPools.Small(), device.BlockCount, 5);
        return (SlabDepot.CreateEmpty(device, geometry), geometry);
    }

    private static long Allocate(SlabDepot depot)
    {
        Assert.That(depot.TryAllocate(0, out var pbn), Is.True, "a free block was found");
        return pbn;
    }

    [Test]
    public void WhenOnlyHolesAreLeftBehindTheWalkTheEmptierSlabIsOpenedAndFilledInOrder()
    {
        var (depot, g) = NewDepot(slabs: 3);
        var first = Enumerable.Range(0, g.SlabBlocks * 3 / 4).Select(_ => Allocate(depot)).ToList();
        Assert.That(first, Is.EqualTo(Enumerable.Range(0, first.Count).Select(i => g.SlabDataStart(0) + i)), "a fresh slab is walked in order");
        // A third of slab 0 is freed behind the walk (overwritten data, say).
        foreach (var pbn in first.Take(g.SlabBlocks / 3))
            depot.ReleaseProvisional(pbn);
        var tail = Enumerable.Range(0, g.SlabBlocks / 4).Select(_ => Allocate(depot)).ToList();
        Assert.That(tail[^1], Is.EqualTo(g.SlabDataStart(0) + g.SlabBlocks - 1), "the walk first finishes slab 0");
        // Slab 0 has only holes left; slab 1 is emptier: the next writes go there, in one run.
        var next = Enumerable.Range(0, 64).Select(_ => Allocate(depot)).ToList();
        Assert.That(next, Is.EqualTo(Enumerable.Range(0, 64).Select(i => g.SlabDataStart(1) + i)), "the emptiest slab is opened, not slab 0's holes");
    }

    [Test]
    public void OnAFullPoolTheSlabWithTheMostFreedBlocksIsFilledFirst()
    {
        var (depot, g) = NewDepot(slabs: 3);
        var last = g.SlabCount - 1;
        var all = Enumerable.Range(0, g.SlabBlocks * g.SlabCount).Select(_ => Allocate(depot)).ToList();
        Assert.That(depot.TryAllocate(0, out _), Is.False, "the pool is full");
        // The last slab (where the walk stands) gets 8 free blocks back, slab 1 gets 100.
        foreach (var pbn in all.Skip((g.SlabBlocks * last) + 3).Take(8))
            depot.ReleaseProvisional(pbn);
        foreach (var pbn in all.Skip(g.SlabBlocks + 50).Take(100))
            depot.ReleaseProvisional(pbn);
        var next = Enumerable.Range(0, 100).Select(_ => Allocate(depot)).ToList();
        Assert.That(next, Is.EqualTo(Enumerable.Range(0, 100).Select(i => g.SlabDataStart(1) + 50 + i)), "slab 1 has the most free blocks: one run there first");
        var rest = Enumerable.Range(0, 8).Select(_ => Allocate(depot)).ToList();
        Assert.That(rest, Is.EqualTo(Enumerable.Range(0, 8).Select(i => g.SlabDataStart(last) + 3 + i)), "then the holes that are left");
        Assert.That(depot.TryAllocate(0, out _), Is.False);
    }

    [Test]
    public void AReopenedOrRebuiltPoolWritesOnFromTheEmptiestSlab()
    {
        var (depot, g) = NewDepot(slabs: 3);
        // Counts as a reopen or a rebuild finds them: every slab used, slab 1 with the most holes.
        depot.ReplaceAll(slab =>
        {
            var counts = new byte[g.SlabBlocks];
            Array.Fill(counts, (byte)1);
            counts.AsSpan(20, slab == 1 ? 100 : 10).Clear();
            return counts;
        });
        var next = Enumerable.Range(0, 100).Select(_ => Allocate(depot)).ToList();
        Assert.That(next, Is.EqualTo(Enumerable.Range(0, 100).Select(i => g.SlabDataStart(1) + 20 + i)), "slab 1 first, not slab 0's holes");
    }
}
