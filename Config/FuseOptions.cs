namespace DataflowVdo.Config;

/// <summary>Section <c>Fuse</c>: how <c>dvdo mount</c> serves a pool.</summary>
public sealed class FuseOptions
{
    /// <summary>
    /// libfuse worker threads at most (each serves one request at a time); 0 = automatic
    /// (<see cref="WorkerThreads"/>).
    /// </summary>
    public int MaxThreads { get; set; }

    /// <summary>The worker threads of a <c>MessagePassing</c> mount when <see cref="MaxThreads"/> is 0 (automatic).</summary>
    public const int MessagePassingThreads = 10;

    /// <summary>
    /// The worker threads of a mount: <see cref="MaxThreads"/> when set; otherwise, for
    /// <c>Inline</c> and <c>StructureLocking</c>, whose steps run on the worker that took the
    /// request, one per core plus one (more only wait for the runners' slots or the zone locks:
    /// with 10 on 2 cores a 4 KiB write at queue depth 32 ran at 0.66-0.75x of 3, 1 MiB writes
    /// at 0.92-1.13x; perf/README.md), and for <c>MessagePassing</c>, whose workers wait while the blocks
    /// work, <see cref="MessagePassingThreads"/> (3 ran at 0.77x of 10).
    /// </summary>
    public int WorkerThreads(SchemeKind scheme, int cores) =>
        MaxThreads > 0 ? MaxThreads
        : scheme == SchemeKind.MessagePassing ? MessagePassingThreads
        : cores + 1;

    /// <summary>
    /// The runner gate of a mount (<c>Pipeline:Runners</c>): as configured, except that an
    /// <c>Inline</c> mount with automatic worker threads runs without a gate when
    /// <c>Pipeline:Runners</c> is left at 0. Its callers are then the cores + 1 workers (and an
    /// ingest's writers): too few for the gate to shorten a line, and every worker that found both
    /// slots taken slept and was woken (0.24 futex calls per 4 KiB write, about 1.7 µs of the
    /// mount's CPU per write; perf/README.md). <c>StructureLocking</c> keeps its gate: without
    /// it, requests that waited resume on thread-pool threads, 5 involuntary switches per write.
    /// </summary>
    public int Runners(PipelineOptions pipeline) =>
        MaxThreads == 0 && pipeline.Scheme == SchemeKind.Inline && pipeline.Runners == 0 ? -1 : pipeline.Runners;

    /// <summary>Largest write request asked of the kernel, in KiB (libfuse caps it at 1024).</summary>
    public int MaxWriteKb { get; set; } = 1024;

    /// <summary>Kernel limit on outstanding background (async direct I/O) requests; 0 = automatic (128, above libfuse's 12, at which a queue depth 32 submitter blocks).</summary>
    public int MaxBackground { get; set; }

    /// <summary>Milliseconds the kernel may cache names and attributes (sizes never change; new images appear after this).</summary>
    public int AttributeTimeoutMs { get; set; } = 1000;

    /// <summary>Let other users access the mount (also <c>--allow-other</c>); default owner only.</summary>
    public bool AllowOther { get; set; }

    /// <summary>libfuse's auto_unmount: a helper unmounts if the mount process dies (e.g. kill -9).</summary>
    public bool AutoUnmount { get; set; }
}
