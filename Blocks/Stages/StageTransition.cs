namespace DataflowVdo.Blocks.Stages;

/// <summary>How often a transition is expected: the graph-truth tests require every normal one to be observed.</summary>
public enum TransitionKind
{
    /// <summary>Taken by ordinary workloads (writes, duplicates, compressible data, zeros, reads, discards, flushes, checkpoints).</summary>
    Normal,

    /// <summary>Taken only in rarer conditions: a full zone or pool, a stale dedupe hint that no longer matches.</summary>
    Rare,

    /// <summary>Failure unwinding: a failed request gives back what it holds.</summary>
    Unwind,

    /// <summary>Not a request's transition: a control message between zones (the journal's durable reference changes to the physical zones).</summary>
    Control,
}

/// <summary>One transition a stage may return.</summary>
/// <param name="To">The stage that follows (<see cref="Stage.Done"/>: acknowledged and finished).</param>
/// <param name="Label">What the transition means, as drawn on its edge.</param>
/// <param name="Kind">Normal, rare or unwinding.</param>
/// <param name="CrossesZones">For a transition within one zone kind: it may move to another zone of that kind (e.g. the next physical zone).</param>
/// <param name="RareWhen">Features with which an otherwise normal transition is rare (e.g. a data write goes to the journal without an index update only when dedupe is off, or rarely).</param>
/// <param name="Unless">Features with which the transition is never taken.</param>
public sealed record StageTransition(Stage To, string Label, TransitionKind Kind = TransitionKind.Normal, bool CrossesZones = false,
    StageNeeds RareWhen = StageNeeds.None, StageNeeds Unless = StageNeeds.None)
{
    /// <summary>How often a driver takes it with <paramref name="features"/> on (every driver runs the same steps).</summary>
    public TransitionKind KindFor(StageNeeds features) =>
        Kind == TransitionKind.Normal && (RareWhen & features) != 0 ? TransitionKind.Rare : Kind;

    /// <summary>True when a driver may take it with <paramref name="features"/> on.</summary>
    public bool TakenBy(StageNeeds features) => (Unless & features) == 0;
}

/// <summary>One row of the stage table.</summary>
/// <param name="Stage">The stage.</param>
/// <param name="Zone">The zone kind that runs it.</param>
/// <param name="Step">Where its work is written (file and method).</param>
/// <param name="Needs">What configuration it exists in.</param>
/// <param name="Next">The stages it may return.</param>
public sealed record StageInfo(Stage Stage, ZoneKind Zone, string Step, StageNeeds Needs, IReadOnlyList<StageTransition> Next);

/// <summary>The configuration a stage exists in.</summary>
[Flags]
public enum StageNeeds
{
    /// <summary>Always present.</summary>
    None = 0,

    /// <summary>Only with <c>Pipeline:Dedupe</c>.</summary>
    Dedupe = 1,

    /// <summary>Only with <c>Pipeline:Compression</c>.</summary>
    Compression = 2,
}
