namespace DataflowVdo.Storage;

/// <summary>A cached block-map leaf page: 812 mappings in their on-disk encoding.</summary>
public sealed class BlockMapPage
{
    internal BlockMapPage(long index, byte[] data)
    {
        Index = index;
        Data = data;
    }

    /// <summary>Leaf page number (LBN / 812).</summary>
    public long Index { get; }

    /// <summary>The whole 4 KiB block, header included.</summary>
    internal byte[] Data { get; }

    /// <summary>Changed since it was last written.</summary>
    internal bool Dirty { get; set; }

    /// <summary>Journal point of the newest entry applied; the page may be written only once it is durable (I2).</summary>
    internal long LastJournalPoint { get; set; }

    /// <summary>Position in the LRU list.</summary>
    internal LinkedListNode<BlockMapPage>? Node { get; set; }

    /// <summary>Mapping of slot <paramref name="slot"/> (0..811).</summary>
    public BlockMapping Get(int slot) =>
        BlockMapping.Decode(Data.AsSpan(MetadataBlock.HeaderSize + (slot * BlockMapping.EncodedSize), BlockMapping.EncodedSize));

    internal void Set(int slot, BlockMapping mapping) =>
        mapping.Encode(Data.AsSpan(MetadataBlock.HeaderSize + (slot * BlockMapping.EncodedSize), BlockMapping.EncodedSize));
}
