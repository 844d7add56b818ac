namespace DataflowVdo.Config;

/// <summary>Which scheduler runs the steps.</summary>
public enum SchemeKind
{
    /// <summary>Every step runs in order on the caller's thread: the reference and the no-handoff baseline.</summary>
    Inline,

    /// <summary>
    /// VDO's scheme: each zone (logical, physical, hash, journal, packer) is a single-consumer
    /// Dataflow block that owns its structures; requests are handed from block to block.
    /// </summary>
    MessagePassing,
}
