namespace DataflowVdo.Config;

/// <summary>Which scheduler runs the steps.</summary>
public enum SchemeKind
{
    /// <summary>Every step runs in order on the caller's thread: the reference and the no-handoff baseline.</summary>
    Inline,
}
