namespace DataflowVdo.Storage;

/// <summary>
/// Space figures of one image, from the block map of its extent. A physical block shared by
/// <c>r</c> mappings (dedupe or packed fragments, across all images) is charged <c>1/r</c> to
/// each, so the <see cref="PhysicalBlocks"/> of all images add up to the pool's data blocks.
/// </summary>
public sealed record ImageStatistics
{
    /// <summary>Logical blocks mapped (written and not discarded), zero blocks included.</summary>
    public long BlocksWritten { get; init; }

    /// <summary>Mapped blocks that are all zeros (stored as nothing).</summary>
    public long ZeroBlocks { get; init; }

    /// <summary>Mapped blocks stored compressed, in a packed block.</summary>
    public long CompressedBlocks { get; init; }

    /// <summary>This image's share of the pool's data blocks (fractional because of sharing).</summary>
    public double PhysicalBlocks { get; init; }

    /// <summary>Percent of written blocks not stored thanks to zero elimination, dedupe and compression.</summary>
    public double SavingPercent => BlocksWritten == 0 ? 0 : Math.Max(0, (BlocksWritten - PhysicalBlocks) * 100.0 / BlocksWritten);
}
