using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline.Backup;

/// <summary>What an ingest stored: the new image, its manifest, and how long it took.</summary>
public sealed record IngestResult
{
    /// <summary>The committed backup image.</summary>
    public required ImageEntry Image { get; init; }

    /// <summary>Its manifest (length, SHA-256, alignment, savings).</summary>
    public required BackupManifest Manifest { get; init; }

    /// <summary>Wall time of the ingest.</summary>
    public required TimeSpan Elapsed { get; init; }
}
