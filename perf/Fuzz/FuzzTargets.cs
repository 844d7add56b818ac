using System.Buffers.Binary;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Fuzz;

/// <summary>One decoder under test: takes any bytes; throws only when the decoder fails in a way it must not.</summary>
public delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>
/// A fuzz target per decoder of on-disk structures. Each puts the input where the decoder reads
/// it — as the raw block, and (the "-sealed" targets) as the payload of a block whose header and
/// checksum are made valid, so that the decoder's checks past the checksum are reached — and
/// runs the decoder. A <see cref="VdoException"/> (a clear error naming the structure) is the
/// expected outcome of bad input; any other exception, a crash, escapes to the fuzzer.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Every target by name.</summary>
    public static IReadOnlyDictionary<string, FuzzTarget> All { get; } = new Dictionary<string, FuzzTarget>
    {
        ["geometry"] = Geometry_,
        ["superblock"] = input => SuperBlock_(input, sealPayload: false),
        ["superblock-sealed"] = input => SuperBlock_(input, sealPayload: true),
        ["journal-block"] = input => Journal(input, sealEntries: false),
        ["journal-block-sealed"] = input => Journal(input, sealEntries: true),
        ["slab-journal-block"] = input => SlabJournalBlock(input, sealEntries: false),
        ["slab-journal-block-sealed"] = input => SlabJournalBlock(input, sealEntries: true),
        ["ref-count-block"] = input => OpenWith(input, t => t.Geometry.RefCountStart(0), MetadataKind.RefCounts, _ => 0, seal: false, dirty: false),
        ["ref-count-block-sealed"] = input => OpenWith(input, t => t.Geometry.RefCountStart(0), MetadataKind.RefCounts, _ => 0, seal: true, dirty: false),
        ["block-map-page"] = input => BlockMapPage(input, seal: false),
        ["block-map-page-sealed"] = input => BlockMapPage(input, seal: true),
        ["block-map-root-sealed"] = input => OpenWith(input, t => t.Geometry.RootStart, MetadataKind.BlockMapRoot, _ => 0, seal: true, dirty: false),
        ["slab-summary-sealed"] = input => OpenWith(input, t => t.Geometry.SummaryStart, MetadataKind.SlabSummary, _ => 0, seal: true, dirty: false),
        ["catalog"] = input => OpenWith(input, t => t.Geometry.CatalogStart, MetadataKind.Catalog, _ => 0, seal: false, dirty: false),
        ["catalog-sealed"] = input => OpenWith(input, t => t.Geometry.CatalogStart, MetadataKind.Catalog, _ => 0, seal: true, dirty: false),
        ["packed-block"] = PackedBlock_,
        ["index"] = input => OpenWith(input, t => t.Geometry.IndexStart, MetadataKind.DedupeIndex, _ => 0, seal: false, dirty: false),
        ["index-sealed"] = input => OpenWith(input, t => t.Geometry.IndexStart, MetadataKind.DedupeIndex, _ => 0, seal: true, dirty: false),
    };

    /// <summary>Valid starting inputs for <paramref name="target"/>: the blocks (or payloads) the template pool holds there.</summary>
    public static IReadOnlyList<byte[]> Seeds(string target)
    {
        var t = TemplatePool.Instance;
        var g = t.Geometry;
        var (device, pbn) = target.Replace("-sealed", "", StringComparison.Ordinal) switch
        {
            "geometry" => (t.Clean, 0L),
            "superblock" => (t.Clean, Geometry.SuperBlockStart),
            "journal-block" => (t.Dirty, g.JournalStart + 1),
            "slab-journal-block" => (t.Dirty, g.SlabJournalStart(0) + 1),
            "ref-count-block" => (t.Clean, g.RefCountStart(0)),
            "block-map-page" => (t.Clean, t.PagePbn),
            "block-map-root" => (t.Clean, g.RootStart),
            "slab-summary" => (t.Clean, g.SummaryStart),
            "catalog" => (t.Clean, g.CatalogStart),
            "packed-block" => (t.Clean, t.PackedPbn),
            "index" => (t.Clean, g.IndexStart),
            _ => throw new ArgumentException($"unknown fuzz target '{target}'", nameof(target)),
        };
        var block = new byte[VdoConstants.BlockSize];
        device.Read(pbn, block);
        if (!target.EndsWith("-sealed", StringComparison.Ordinal))
            return [block];
        return target.StartsWith("journal", StringComparison.Ordinal) || target.StartsWith("slab-journal", StringComparison.Ordinal)
            ? [EntriesOf(block)]
            : [MetadataBlock.Payload((ReadOnlySpan<byte>)block).ToArray()];
    }

    private static byte[] Block(ReadOnlySpan<byte> input)
    {
        var block = new byte[VdoConstants.BlockSize];
        input[..Math.Min(input.Length, block.Length)].CopyTo(block);
        return block;
    }

    private static void Expect(Action run)
    {
        try
        {
            run();
        }
        catch (VdoException)
        {
            // the decoder refused the input, naming the problem: what it must do
        }
    }

    private static void Geometry_(ReadOnlySpan<byte> input)
    {
        var block = Block(input);
        Expect(() => Geometry.Decode(block, TemplatePool.Instance.Clean.BlockCount));
    }

    private static void SuperBlock_(ReadOnlySpan<byte> input, bool sealPayload)
    {
        var t = TemplatePool.Instance;
        var device = new OverlayDevice(t.Clean);
        var block = sealPayload ? SealedMetadata(input, MetadataKind.SuperBlock, t.Geometry.Nonce, 1) : Block(input);
        device.Put(Geometry.SuperBlockStart + 1, block);
        Expect(() => SuperBlock.Read(device, t.Geometry.Nonce));
        Expect(() => Volume.Open(device, TemplatePool.Options()).Dispose());
    }

    private static void Journal(ReadOnlySpan<byte> input, bool sealEntries)
    {
        var t = TemplatePool.Instance;
        var g = t.Geometry;
        var block = sealEntries ? SealedJournal(input, 1, g.Nonce) : Block(input);
        Expect(() => JournalBlockFormat.Parse(block, 1, g.Nonce, out _));
        var device = new OverlayDevice(t.Dirty);
        device.Put(g.JournalStart + 1, block); // sequence 1: the first block recovery replays
        Expect(() => Volume.Open(device, TemplatePool.Options()).Dispose());
    }

    private static void SlabJournalBlock(ReadOnlySpan<byte> input, bool sealEntries)
    {
        var t = TemplatePool.Instance;
        var g = t.Geometry;
        var nonce = g.Nonce ^ 0x9E3779B97F4A7C15UL; // slab 0's journal nonce (SlabJournal.NonceOf)
        var block = sealEntries ? SealedJournal(input, 1, nonce) : Block(input);
        var device = new OverlayDevice(t.Dirty);
        device.Put(g.SlabJournalStart(0) + 1, block);
        Expect(() => SlabJournal.Read(device, g, 0, 1, out _));
        Expect(() => Volume.Open(device, TemplatePool.Options()).Dispose());
    }

    private static void BlockMapPage(ReadOnlySpan<byte> input, bool seal)
    {
        var t = TemplatePool.Instance;
        var block = seal ? SealedMetadata(input, MetadataKind.BlockMapLeaf, t.Geometry.Nonce, 0) : Block(input);
        var device = new OverlayDevice(t.Clean);
        device.Put(t.PagePbn, block);
        Expect(() =>
        {
            using var volume = Volume.Open(device, TemplatePool.Options());
            var buffer = new byte[VdoConstants.BlockSize * 64];
            try
            {
                volume.ReadBlocks(0, buffer);
            }
            catch (IOException)
            {
                // a mapping to a fragment that does not decompress fails the read: a clear error too
            }
            volume.Check();
        });
    }

    private static void OpenWith(ReadOnlySpan<byte> input, Func<TemplatePool, long> where, MetadataKind kind, Func<TemplatePool, long> index, bool seal, bool dirty)
    {
        var t = TemplatePool.Instance;
        var block = seal ? SealedMetadata(input, kind, t.Geometry.Nonce, index(t)) : Block(input);
        var device = new OverlayDevice(dirty ? t.Dirty : t.Clean);
        device.Put(where(t), block);
        Expect(() =>
        {
            using var volume = Volume.Open(device, TemplatePool.Options());
            volume.Check();
        });
    }

    private static void PackedBlock_(ReadOnlySpan<byte> input)
    {
        var block = Block(input);
        var count = PackedBlock.FragmentCount(block);
        var destination = new byte[VdoConstants.BlockSize];
        for (var slot = 0; slot < count; slot++)
        {
            try
            {
                PackedBlock.Decompress(block, slot, destination, 1234);
            }
            catch (Exception e) when (e is VdoException or IOException)
            {
                // a fragment that does not decompress fails that read with a clear error
            }
        }
    }

    private static byte[] SealedMetadata(ReadOnlySpan<byte> payload, MetadataKind kind, ulong nonce, long index)
    {
        var block = new byte[VdoConstants.BlockSize];
        payload[..Math.Min(payload.Length, MetadataBlock.PayloadSize)].CopyTo(MetadataBlock.Payload(block.AsSpan()));
        MetadataBlock.Seal(block, kind, nonce, index);
        return block;
    }

    /// <summary>The input as entries (the first two bytes give the count) of a journal block sealed for <paramref name="sequence"/>.</summary>
    private static byte[] SealedJournal(ReadOnlySpan<byte> input, ulong sequence, ulong nonce)
    {
        var block = new byte[VdoConstants.BlockSize];
        var count = input.Length >= 2 ? BinaryPrimitives.ReadUInt16LittleEndian(input) % (JournalBlockFormat.EntriesPerBlock + 1) : 0;
        var entries = input.Length > 2 ? input[2..] : [];
        for (var i = 0; i < count && (i + 1) * JournalEntry.EncodedSize <= entries.Length; i++)
            entries.Slice(i * JournalEntry.EncodedSize, JournalEntry.EncodedSize).CopyTo(block.AsSpan(JournalBlockFormat.EntryOffset(i)));
        JournalBlockFormat.Seal(block, sequence, count, nonce);
        return block;
    }

    /// <summary>A journal block's entries in the form <see cref="SealedJournal"/> takes.</summary>
    private static byte[] EntriesOf(byte[] block)
    {
        var count = JournalBlockFormat.EntriesPerBlock;
        var input = new byte[2 + (count * JournalEntry.EncodedSize)];
        BinaryPrimitives.WriteUInt16LittleEndian(input, (ushort)count);
        for (var i = 0; i < count; i++)
            block.AsSpan(JournalBlockFormat.EntryOffset(i), JournalEntry.EncodedSize).CopyTo(input.AsSpan(2 + (i * JournalEntry.EncodedSize)));
        return input;
    }
}
