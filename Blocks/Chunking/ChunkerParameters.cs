namespace DataflowVdo.Blocks.Chunking;

/// <summary>
/// Sizes of content-defined chunks: no cut before <see cref="MinBytes"/>, a cut forced at
/// <see cref="MaxBytes"/>, and normalized chunking around <see cref="AverageBytes"/> (a power of
/// two). Defaults (16 / 32 / 128 KiB) were chosen by measurement (perf/README.md, "Backup ingest"):
/// published FastCDC results keep their savings on shifted data at averages of 64 KiB and below,
/// and each chunk costs on average half a 4 KiB block of zero padding in the image.
/// </summary>
public sealed record ChunkerParameters
{
    /// <summary>Smallest chunk (except the last one of a stream).</summary>
    public int MinBytes { get; init; } = 16 * 1024;

    /// <summary>Target average chunk size, a power of two.</summary>
    public int AverageBytes { get; init; } = 32 * 1024;

    /// <summary>Largest chunk: a cut is forced here.</summary>
    public int MaxBytes { get; init; } = 128 * 1024;

    /// <summary>The defaults.</summary>
    public static ChunkerParameters Default { get; } = new();

    /// <summary>Null when the sizes are usable, else what is wrong with them.</summary>
    public string? Validate()
    {
        if (AverageBytes < 256 || (AverageBytes & (AverageBytes - 1)) != 0)
            return $"the average chunk size {AverageBytes} must be a power of two of at least 256 bytes";
        if (MinBytes < 64 || MinBytes >= AverageBytes)
            return $"the minimum chunk size {MinBytes} must be at least 64 bytes and below the average {AverageBytes}";
        if (MaxBytes <= AverageBytes || MaxBytes > 64 * 1024 * 1024)
            return $"the maximum chunk size {MaxBytes} must be above the average {AverageBytes} and at most 64 MiB";
        return null;
    }
}
