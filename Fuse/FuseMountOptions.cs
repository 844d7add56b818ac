namespace DataflowVdo.Fuse;

/// <summary>Tuning and policy for a <see cref="FuseMount"/>; the defaults suit a local block-image mount.</summary>
public sealed class FuseMountOptions
{
    /// <summary>Adds the allow_other mount option (other users may access the mount; needs user_allow_other in /etc/fuse.conf for non-root).</summary>
    public bool AllowOther { get; init; }

    /// <summary>
    /// Adds libfuse's auto_unmount: a fusermount3 helper unmounts if this process dies. libfuse then
    /// always mounts through fusermount3 (fork + exec), even as root.
    /// </summary>
    public bool AutoUnmount { get; init; }

    /// <summary>Passes -d to libfuse, which logs every request to stderr.</summary>
    public bool Debug { get; init; }

    /// <summary>Upper bound on libfuse worker threads (each runs one request at a time).</summary>
    public int MaxThreads { get; init; } = 10;

    /// <summary>Largest write request to ask the kernel for; libfuse caps it at its 1 MiB (256-page) receive buffer.</summary>
    public int MaxWrite { get; init; } = 1024 * 1024;

    /// <summary>Upper bound for kernel readahead (irrelevant for direct I/O, used by mmap readers).</summary>
    public int MaxReadahead { get; init; } = 1024 * 1024;

    /// <summary>
    /// The value a <see cref="MaxBackground"/> of 0 stands for. Asynchronous direct I/O (libaio,
    /// io_uring, the loop driver) reaches FUSE as background requests; at libfuse's default of 12
    /// a submitter with more in flight blocks in the kernel until a reply frees a slot, and every
    /// reply then pays for waking it (measured: 4 KiB writes at queue depth 32 spent two thirds of
    /// the reply syscall in that wake-up). 128 covers the queue depths of fio, qemu and the loop
    /// driver's default (128 requests).
    /// </summary>
    public const int AutomaticMaxBackground = 128;

    /// <summary>
    /// Kernel limit on outstanding background (async) requests; 0 (the default) means
    /// <see cref="AutomaticMaxBackground"/>. The congestion threshold is set to three quarters of it.
    /// </summary>
    public int MaxBackground { get; init; }

    /// <summary>How long the kernel may cache attributes and names. Sizes never change, so this only delays new images appearing.</summary>
    public TimeSpan AttributeTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long <see cref="FuseMount.Unmount"/> waits for the session loop to finish.</summary>
    public TimeSpan UnmountTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// When true the mount registers SIGINT/SIGTERM/SIGQUIT handlers (PosixSignalRegistration): the
    /// first signal cancels the default termination and starts an unmount instead, and the host then
    /// sees <see cref="FuseMount.WaitAsync"/> complete; a second signal terminates as usual.
    /// libfuse's own signal handlers are never installed.
    /// </summary>
    public bool HandleTerminationSignals { get; init; }

    /// <summary>Receives exceptions thrown by image files or by the binding (operation description, exception); called on FUSE worker threads.</summary>
    public Action<string, Exception>? ErrorSink { get; init; }
}
