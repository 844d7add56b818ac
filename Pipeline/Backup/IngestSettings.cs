using DataflowVdo.Blocks.Chunking;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline.Backup;

/// <summary>How <see cref="BackupIngest"/> lays out and writes a stream.</summary>
public sealed record IngestSettings
{
    /// <summary>
    /// The default alignment: <c>hybrid</c>. Measured (docs/backup.md, perf/README.md "Backup
    /// ingest"): within 2 points of the best of <c>cdc</c> and <c>fixed</c> on tar streams,
    /// ext4 images and block-aligned copies, where <c>cdc</c> loses 30 points on the last and
    /// <c>fixed</c> 31 on tar streams whose members shift.
    /// </summary>
    public const BackupAlignment DefaultAlignment = BackupAlignment.Hybrid;

    /// <summary>The alignment named <paramref name="name"/> on the command line (fixed, cdc, hybrid).</summary>
    public static BackupAlignment ParseAlignment(string name) => name switch
    {
        "fixed" => BackupAlignment.Fixed,
        "cdc" => BackupAlignment.Cdc,
        "hybrid" => BackupAlignment.Hybrid,
        _ => throw new ArgumentException($"unknown alignment '{name}': fixed, cdc or hybrid"),
    };

    /// <summary>Fixed 4 KiB blocks, content-defined chunks, or content-defined chunks snapped where the stream repeats aligned blocks.</summary>
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
