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

    /// <summary>
    /// The dual of message passing: a request runs its steps itself on the thread pool, taking
    /// each zone's lock in turn, several steps per requeue; the same zones, steps and ordering rules.
    /// </summary>
    StructureLocking,
}
