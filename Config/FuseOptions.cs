namespace DataflowVdo.Config;

/// <summary>Section <c>Fuse</c>: how <c>dvdo mount</c> serves a pool.</summary>
public sealed class FuseOptions
{
    /// <summary>libfuse worker threads at most (each serves one request at a time).</summary>
    public int MaxThreads { get; set; } = 10;

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
