using DataflowVdo.Blocks.Chunking;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline.Backup;

/// <summary>How <see cref="BackupIngest"/> lays out and writes a stream.</summary>
public sealed record IngestSettings
{
    /// <summary>
    /// The default alignment: <c>cdc</c>. Measured (perf/README.md, "Backup ingest"): it keeps
    /// dedupe on tar streams whose members shift, and costs little on images, whose files are
    /// already 4 KiB aligned.
    /// </summary>
    public const BackupAlignment DefaultAlignment = BackupAlignment.Cdc;

    /// <summary>Fixed 4 KiB blocks or content-defined chunks.</summary>
    public BackupAlignment Alignment { get; init; } = DefaultAlignment;

    /// <summary>Chunk sizes for <c>cdc</c>.</summary>
    public ChunkerParameters Chunker { get; init; } = ChunkerParameters.Default;

    /// <summary>Writes in flight at once (the queue depth), each one request of up to <see cref="RequestBlocks"/> blocks.</summary>
    public int Writers { get; init; } = Math.Max(4, 2 * Environment.ProcessorCount);

    /// <summary>Blocks per write request (1 MiB: what a FUSE write of a VM image sends).</summary>
    public int RequestBlocks { get; init; } = 256;

    /// <summary>
    /// The most logical blocks a stream of <paramref name="length"/> bytes can need (data with
    /// padding, chunk map, manifest): what an ingest of known length reserves.
    /// </summary>
    public long MaxBlocks(long length)
    {
        var blocks = (length + VdoConstants.BlockSize - 1) / VdoConstants.BlockSize;
        if (Alignment == BackupAlignment.Fixed)
            return blocks + 1;
        var chunks = (length / Chunker.MinBytes) + 1;
        return blocks + chunks + ((chunks + BackupManifest.LengthsPerBlock - 1) / BackupManifest.LengthsPerBlock) + 1;
    }
}
