using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>The double-write area repairs metadata blocks torn by a crash, and never applies an incomplete batch.</summary>
public sealed class MetadataWriterTests
{
    private static (CrashSimulatingDevice Device, Geometry Geometry) NewPool()
    {
        var device = new CrashSimulatingDevice(TestPools.DeviceBlocks(slabs: 2));
        var geometry = Geometry.Compute(TestPools.Small(), device.BlockCount, 77);
        return (device, geometry);
    }

    private static byte[] Sealed(Geometry g, long index, byte fill)
    {
        var block = new byte[VdoConstants.BlockSize];
        MetadataBlock.Payload(block.AsSpan()).Fill(fill);
        MetadataBlock.Seal(block, MetadataKind.Catalog, g.Nonce, index);
        return block;
    }

    [Test]
    public void ATornInPlaceWriteIsRepairedFromTheDoubleWriteArea()
    {
        var (device, g) = NewPool();
        var writer = new MetadataWriter(device, g);
        for (var i = 0; i < 3; i++)
            writer.Write(g.CatalogStart + i, Sealed(g, i, 1));
        writer.Commit();
        device.Flush();
        for (var i = 0; i < 3; i++)
            writer.Write(g.CatalogStart + i, Sealed(g, i, 2));
        writer.Commit(); // copies flushed, in-place writes not yet
        using var image = device.Crash(new Random(3), tear: true, keep: 1, tearProbability: 1);
        var block = new byte[VdoConstants.BlockSize];
        image.Read(g.CatalogStart, block);
        Assert.That(MetadataBlock.Validate(block, MetadataKind.Catalog, g.Nonce, 0), Is.Not.Null, "the crash tore the in-place write");

        Assert.That(MetadataWriter.Restore(image, g), Is.EqualTo(3));
        for (var i = 0; i < 3; i++)
        {
            image.Read(g.CatalogStart + i, block);
            Assert.That(MetadataBlock.Validate(block, MetadataKind.Catalog, g.Nonce, i), Is.Null);
            Assert.That(MetadataBlock.Payload(block.AsSpan())[0], Is.EqualTo(2));
        }
    }

    [Test]
    public void AnIncompleteBatchIsNotApplied()
    {
        var (device, g) = NewPool();
        var writer = new MetadataWriter(device, g);
        writer.Write(g.CatalogStart, Sealed(g, 0, 1));
        writer.Commit();
        device.Flush(); // batch 1 is durable everywhere
        // Batch 2's copies are written but the power goes out before its flush: the copies land
        // torn while the descriptor of batch 1 is still the durable one.
        device.CutPowerAfter(1);
        writer.Write(g.CatalogStart + 1, Sealed(g, 1, 9));
        Assert.Throws<IOException>(writer.Commit);
        using var image = device.Crash(new Random(4), tear: true, keep: 1, tearProbability: 1);
        MetadataWriter.Restore(image, g);
        var block = new byte[VdoConstants.BlockSize];
        image.Read(g.CatalogStart, block);
        Assert.That(MetadataBlock.Validate(block, MetadataKind.Catalog, g.Nonce, 0), Is.Null);
        Assert.That(MetadataBlock.Payload(block.AsSpan())[0], Is.EqualTo(1));
    }
}
