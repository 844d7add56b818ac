namespace DataflowVdo.Storage;

/// <summary>
/// One named image of a pool: it owns the logical blocks
/// <c>[FirstLbn, FirstLbn + ExtentBlocks)</c>, of which the first <c>SizeBytes / 4096</c> are
/// its contents. Extents are whole block-map pages, so two images never share a page.
/// </summary>
public sealed record ImageEntry
{
    /// <summary>Unique name (1..64 UTF-8 bytes, a valid file name).</summary>
    public required string Name { get; init; }

    /// <summary>Block (read-write) or backup (read-only).</summary>
    public required ImageKind Kind { get; init; }

    /// <summary>Size in bytes, a multiple of 4096.</summary>
    public required long SizeBytes { get; init; }

    /// <summary>First LBN of the extent (a multiple of the 812 mappings of a block-map page).</summary>
    public required long FirstLbn { get; init; }

    /// <summary>Logical blocks reserved: the size rounded up to whole block-map pages.</summary>
    public required long ExtentBlocks { get; init; }

    /// <summary>When the image was created (UTC).</summary>
    public required DateTimeOffset Created { get; init; }

    /// <summary>Slot of the record in the catalog region (which block it lives in).</summary>
    public int Slot { get; init; }

    /// <summary>Blocks of contents: <see cref="SizeBytes"/> / 4096.</summary>
    public long SizeBlocks => SizeBytes / VdoConstants.BlockSize;

    /// <summary>True for images that refuse writes (backups).</summary>
    public bool ReadOnly => Kind == ImageKind.Backup;
}
