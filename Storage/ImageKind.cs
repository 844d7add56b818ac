namespace DataflowVdo.Storage;

/// <summary>What an image in the catalog is; stored as one byte in its catalog record.</summary>
public enum ImageKind : byte
{
    /// <summary>A fixed-size read-write block image (a VM disk, a file system).</summary>
    Block = 1,
    /// <summary>A backup written once by ingest, read-only afterwards.</summary>
    Backup = 2,
}
