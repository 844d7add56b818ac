namespace DataflowVdo.Storage;

/// <summary>What a checksummed metadata block holds; stored in its header.</summary>
public enum MetadataKind : ushort
{
    /// <summary>Block 0: where everything is.</summary>
    Geometry = 1,
    /// <summary>Blocks 1 and 2: state that changes at each checkpoint.</summary>
    SuperBlock = 2,
    /// <summary>Array of leaf-page PBNs of the block map.</summary>
    BlockMapRoot = 3,
    /// <summary>812 mappings of consecutive LBNs.</summary>
    BlockMapLeaf = 4,
    /// <summary>4064 one-byte reference counts of a slab.</summary>
    RefCounts = 5,
    /// <summary>Per-slab free counts.</summary>
    SlabSummary = 6,
    /// <summary>The named images of the pool.</summary>
    Catalog = 7,
    /// <summary>Saved dedupe index records.</summary>
    DedupeIndex = 8,
    /// <summary>Descriptor of the metadata batch in the double-write area.</summary>
    DoubleWrite = 9,
    /// <summary>The manifest of a backup image: its last block (stream length, SHA-256, alignment).</summary>
    BackupManifest = 10,
    /// <summary>A block of a backup image's chunk map (chunk lengths), before its manifest.</summary>
    BackupChunkMap = 11,
}
