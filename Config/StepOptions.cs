namespace DataflowVdo.Config;

/// <summary>
/// How one Dataflow block of the pipeline runs (section <c>Pipeline:Steps:NAME</c>). Zones own
/// structures and always run one message at a time; the worker pools (hash, compress, verify,
/// data write) may run several.
/// </summary>
public sealed class StepOptions
{
    /// <summary>Messages processed at once (<c>MaxDegreeOfParallelism</c>); 0 = one per core. Zones must use 1.</summary>
    public int Parallelism { get; set; } = 1;

    /// <summary>Messages the block may queue (<c>BoundedCapacity</c>); 0 = unbounded (the request pool already bounds what is in flight, I8).</summary>
    public int BoundedCapacity { get; set; }

    /// <summary>Messages a block processes per task before yielding its thread (<c>MaxMessagesPerTask</c>); 0 = unlimited.</summary>
    public int BatchSize { get; set; }
}
