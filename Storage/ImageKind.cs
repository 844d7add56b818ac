namespace DataflowVdo.Storage;

/// <summary>What an image in the catalog is; stored as one byte in its catalog record.</summary>
public enum ImageKind : byte
{
    /// <summary>A fixed-size read-write block image (a VM disk, a file system).</summary>
    Block = 1,
    /// <summary>A backup written once by ingest, read-only afterwards.</summary>
    Backup = 2,
    /// <summary>
    /// A backup being ingested: it holds its name and extent but is in no listing; committed
    /// (rewritten as <see cref="Backup"/>) once its data and manifest are durable, or discarded
    /// with its extent at the next open after a crash. Builds before this kind refuse such a
    /// record ("unknown kind 3") rather than show half an image.
    /// </summary>
    Pending = 3,
}
