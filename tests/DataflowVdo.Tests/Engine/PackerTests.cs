using DataflowVdo.Blocks;

namespace DataflowVdo.Tests.Engine;

/// <summary>The packer's decisions: best fit, and not holding fragments no recent fragment could pair with.</summary>
public sealed class PackerTests
{
    private static DataVio Fragment(int size) => new() { FragmentSize = size };

    [Test]
    public void AFragmentThatNoRecentFragmentCouldJoinIsNotWorthPacking()
    {
        var packer = new Packer(16);
        Assert.That(packer.WorthPacking(2115), Is.True, "nothing seen yet: try");
        for (var i = 0; i < 300; i++)
            packer.WorthPacking(2100 + (i % 30));
        Assert.That(packer.WorthPacking(2115), Is.False, "2115 + 2100 > 4064: it would wait for nothing");
        Assert.That(packer.WorthPacking(1900), Is.True, "1900 + 2100 fits");
        packer.WorthPacking(400);
        Assert.That(packer.WorthPacking(3600), Is.True, "a recent 400-byte fragment could join it");
    }

    [Test]
    public void BestFitFillsTheFullestBinThatFitsAndClosesAFullBin()
    {
        var packer = new Packer(4);
        var closed = new List<PackerBin>();
        packer.Add(Fragment(3000), closed);
        packer.Add(Fragment(2000), closed);
        packer.Add(Fragment(1000), closed); // fits both; best fit is the 3000 bin (less free)
        Assert.That(closed, Has.Count.EqualTo(1), "3000 + 1000 leaves 64 bytes: below any recent fragment, the bin goes");
        Assert.That(closed[0].Used, Is.EqualTo(4000));
        Assert.That(packer.Waiting, Is.EqualTo(1));
    }
}
