namespace DataflowVdo.Pipeline;

/// <summary>What <see cref="Volume.Scrub"/> read and what it found damaged.</summary>
public sealed record ScrubReport
{
    /// <summary>Whole data blocks read and verified against their checksums.</summary>
    public long DataBlocks { get; init; }

    /// <summary>Packed blocks read (each fragment in use decompressed and verified).</summary>
    public long PackedBlocks { get; init; }

    /// <summary>Fragments of packed blocks verified.</summary>
    public long Fragments { get; init; }

    /// <summary>Metadata blocks read and validated (plus the structural check of <see cref="Volume.Check"/>).</summary>
    public long MetadataBlocks { get; init; }

    /// <summary>Every damaged block found, with what it affects.</summary>
    public required IReadOnlyList<ScrubDamage> Damage { get; init; }

    /// <summary>True when nothing is damaged.</summary>
    public bool Clean => Damage.Count == 0;
}

/// <summary>One damaged block: where, what is wrong, and every LBN (and image) whose data it held.</summary>
/// <param name="Region">"data block", "packed block", or the metadata structure.</param>
/// <param name="Pbn">The damaged physical block.</param>
/// <param name="Problem">What is wrong with it.</param>
/// <param name="Affected">The logical blocks that map to it (a block shared by dedupe names all of them); empty for metadata.</param>
public sealed record ScrubDamage(string Region, long Pbn, string Problem, IReadOnlyList<ScrubReference> Affected);

/// <summary>A logical block that maps to a damaged block, and the image it belongs to.</summary>
/// <param name="Lbn">The pool's logical block.</param>
/// <param name="Image">The image holding it, or null when no image's extent covers it.</param>
/// <param name="ImageBlock">The 4 KiB block within that image (byte offset / 4096); -1 without an image.</param>
/// <param name="Slot">The fragment slot for a packed block, else -1.</param>
public readonly record struct ScrubReference(long Lbn, string? Image, long ImageBlock, int Slot);

/// <summary>Progress of a scrub: blocks done of the total to read, and the phase.</summary>
public readonly record struct ScrubProgress(long Done, long Total, string Phase);
