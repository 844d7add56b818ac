namespace DataflowVdo.Pipeline;

/// <summary>What <see cref="Volume.Repair"/> changed: every mapping it dropped and reference count it rewrote, and the read-only mode it cleared.</summary>
public sealed record RepairResult
{
    /// <summary>One line per change, naming the PBN and the old and new count.</summary>
    public required IReadOnlyList<string> Changes { get; init; }

    /// <summary>How many of <see cref="Changes"/> are mappings dropped because their data failed its checksum (repair with drop-damaged).</summary>
    public int DroppedMappings { get; init; }

    /// <summary>The reason the pool was in read-only mode, now cleared; null if it was not.</summary>
    public string? ClearedReadOnlyReason { get; init; }
}
