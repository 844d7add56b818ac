using System.Text;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Fuzz;

/// <summary>
/// A small pool holding every structure with content (an image in the catalog, mapped,
/// shared and packed blocks, a saved index), closed cleanly; and a copy left to recover (its
/// journals still to replay). Fuzz inputs replace one block of it.
/// </summary>
internal sealed class TemplatePool
{
    private static readonly Lazy<TemplatePool> s_instance = new(Build);

    public static TemplatePool Instance => s_instance.Value;

    public required MemoryBlockDevice Clean { get; init; }
    public required MemoryBlockDevice Dirty { get; init; }
    public required Geometry Geometry { get; init; }
    public required long PagePbn { get; init; }
    public required long PackedPbn { get; init; }

    /// <summary>Options small enough for a fuzz iteration (one zone, a tiny cache).</summary>
    public static VdoOptions Options()
    {
        var o = new VdoOptions();
        o.Pipeline.Scheme = SchemeKind.Inline;
        o.Volume.BlockMapCacheMb = 1;
        o.Index.MemoryMb = 1;
        o.Pipeline.PackerBins = 4;
        return o;
    }

    private static TemplatePool Build()
    {
        var format = new FormatParameters { LogicalBlocks = 4096, MaxLogicalBlocks = 1L << 20, SlabBlocks = 1024, JournalBlocks = 16, SlabJournalBlocks = 16, CatalogBlocks = 2, IndexBlocks = 16 };
        var probe = Geometry.Compute(format with { PhysicalBlocks = 0 }, 1L << 30, 1);
        var dirty = new MemoryBlockDevice(probe.DepotStart + probe.SlabStride);
        Geometry g;
        using (var volume = Volume.Format(dirty, format, Options()))
        {
            g = volume.Geometry;
            volume.CreateImage("vm", 812L * VdoConstants.BlockSize);
            var block = new byte[VdoConstants.BlockSize];
            for (var lbn = 0; lbn < 64; lbn++)
            {
                if (lbn % 3 == 2)
                {
                    var text = Encoding.ASCII.GetBytes($"compressible block {lbn % 9} ");
                    for (var i = 0; i < block.Length; i++)
                        block[i] = text[i % text.Length];
                }
                else
                {
                    new Random(lbn % 20).NextBytes(block);
                }
                volume.Write(lbn, block);
            }
            volume.Flush();
            // Left open: the dirty copy is taken now, with the journals to replay.
            var copy = new MemoryBlockDevice(dirty.BlockCount);
            copy.Write(0, dirty.ToArray());
            dirty = copy;
        }
        return BuildFrom(g, dirty);
    }

    private static TemplatePool BuildFrom(Geometry g, MemoryBlockDevice dirty)
    {
        // The clean copy: the dirty one recovered and closed (index saved, everything checkpointed).
        var clean = new MemoryBlockDevice(dirty.BlockCount);
        clean.Write(0, dirty.ToArray());
        using (Volume.Open(clean, Options()))
        {
        }
        var root = new byte[VdoConstants.BlockSize];
        clean.Read(g.RootStart, root);
        var page = BlockMapping.Decode(MetadataBlock.Payload((ReadOnlySpan<byte>)root)).Pbn;
        var packed = -1L;
        var block = new byte[VdoConstants.BlockSize];
        for (var pbn = g.SlabDataStart(0); pbn < g.SlabDataStart(0) + g.SlabBlocks && packed < 0; pbn++)
        {
            clean.Read(pbn, block);
            if (PackedBlock.FragmentCount(block) > 1)
                packed = pbn;
        }
        if (page == 0 || packed < 0)
            throw new InvalidOperationException("the template pool has no block-map page or packed block (bug in the template)");
        return new TemplatePool { Clean = clean, Dirty = dirty, Geometry = g, PagePbn = page, PackedPbn = packed };
    }
}
