using System.Runtime.InteropServices;
using DataflowVdo.Fuse.Native;

namespace DataflowVdo.Fuse;

/// <summary>
/// A live FUSE mount of an <see cref="IImageCatalogView"/>. <see cref="Mount"/> creates the libfuse
/// session, mounts it and runs libfuse's multi-threaded loop on a dedicated thread. The mount ends
/// when <see cref="Unmount"/>/<see cref="Dispose"/> is called or when something else unmounts it
/// (<c>fusermount3 -u</c>, <c>umount</c>); either way <see cref="WaitAsync"/> completes once the
/// session is torn down. Do not call <see cref="Unmount"/> from inside an <see cref="IImageFile"/>
/// method: the loop waits for that very callback to return.
/// </summary>
public sealed class FuseMount : IDisposable
{
    private const string FileSystemName = "dvdo";

    private readonly Lock _gate = new();
    private readonly ImageFileSystem _fileSystem;
    private readonly FuseMountOptions _options;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _loopThread;
    private readonly List<PosixSignalRegistration> _signalRegistrations = [];
    private GCHandle _userData;
    private nint _session; // Guarded by _gate; 0 once destroyed.
    private bool _unmountRequested; // Guarded by _gate.
    private int _signalCount;

    private FuseMount(string mountPoint, FuseMountOptions options, ImageFileSystem fileSystem, GCHandle userData, nint session)
    {
        MountPoint = mountPoint;
        _options = options;
        _fileSystem = fileSystem;
        _userData = userData;
        _session = session;
        _loopThread = new Thread(RunLoop) { IsBackground = true, Name = "dvdo-fuse-loop" };
    }

    /// <summary>Absolute path of the mount point.</summary>
    public string MountPoint { get; }

    /// <summary>False once the session loop has ended and the session is destroyed.</summary>
    public bool IsMounted => !_stopped.Task.IsCompleted;

    /// <summary>The file system behind this mount; its <see cref="ImageFileSystem.Connection"/> shows what init negotiated.</summary>
    internal ImageFileSystem FileSystem => _fileSystem;

    /// <summary>
    /// Mounts <paramref name="catalog"/> at the existing directory <paramref name="mountPoint"/>.
    /// Throws <see cref="PlatformNotSupportedException"/> when the native layouts do not match this
    /// process (see docs/fuse.md) and <see cref="IOException"/> when libfuse cannot mount.
    /// </summary>
    public static unsafe FuseMount Mount(IImageCatalogView catalog, string mountPoint, FuseMountOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        options ??= new FuseMountOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxThreads, 1, nameof(options));
        NativeLayout.Verify();

        string fullPath = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        if (!Directory.Exists(fullPath))
        {
            throw new DirectoryNotFoundException($"FUSE mount point '{fullPath}' does not exist or is not a directory.");
        }

        var fileSystem = new ImageFileSystem(catalog, options, LibC.GetUid(), LibC.GetGid());
        var userData = GCHandle.Alloc(fileSystem);
        nint session = 0;
        try
        {
            session = CreateSession(options, userData);
            if (LibFuse.SessionMount(session, fullPath) != 0)
            {
                throw new IOException($"fuse_session_mount failed for '{fullPath}' (libfuse printed the reason on stderr; "
                    + "check that /dev/fuse is accessible and, for non-root users, that fusermount3 is installed).");
            }
        }
        catch
        {
            if (session != 0)
            {
                LibFuse.SessionDestroy(session);
            }

            userData.Free();
            throw;
        }

        var mount = new FuseMount(fullPath, options, fileSystem, userData, session);
        mount.Start();
        return mount;
    }

    /// <summary>Completes when the session has ended (faulted if the loop failed); cancelling stops waiting, not the mount.</summary>
    public Task WaitAsync(CancellationToken cancellationToken = default) => _stopped.Task.WaitAsync(cancellationToken);

    /// <summary>
    /// Ends the session and unmounts, waiting up to <see cref="FuseMountOptions.UnmountTimeout"/>.
    /// A busy mount (files still open) is detached lazily and its connection closed, so those handles
    /// fail with ENOTCONN instead of blocking the unmount. Idempotent; throws
    /// <see cref="TimeoutException"/> if the loop did not stop in time.
    /// </summary>
    public void Unmount()
    {
        RequestUnmount();
        if (Thread.CurrentThread != _loopThread && !_loopThread.Join(_options.UnmountTimeout))
        {
            throw new TimeoutException($"The FUSE session at '{MountPoint}' did not stop within {_options.UnmountTimeout}.");
        }
    }

    public void Dispose()
    {
        try
        {
            Unmount();
        }
        catch (TimeoutException ex)
        {
            _fileSystem.ReportError("unmount", ex);
        }
    }

    private static unsafe nint CreateSession(FuseMountOptions options, GCHandle userData)
    {
        var args = default(FuseArgs);
        string mountOptions = $"fsname={FileSystemName},subtype={FileSystemName},default_permissions"
            + (options.AllowOther ? ",allow_other" : string.Empty)
            + (options.AutoUnmount ? ",auto_unmount" : string.Empty);
        try
        {
            // argv[0] is the program name; everything else is parsed by fuse_session_new.
            AddArgument(&args, FileSystemName);
            AddArgument(&args, "-o");
            AddArgument(&args, mountOptions);
            if (options.Debug)
            {
                AddArgument(&args, "-d");
            }

            var operations = ImageFileSystem.CreateOperations();
            nint session = LibFuse.SessionNew(&args, &operations, (nuint)sizeof(FuseLowLevelOps), (void*)GCHandle.ToIntPtr(userData));
            if (session == 0)
            {
                throw new IOException($"fuse_session_new rejected the options '-o {mountOptions}' (libfuse printed the reason on stderr).");
            }

            return session;
        }
        finally
        {
            LibFuse.OptFreeArgs(&args);
        }
    }

    private static unsafe void AddArgument(FuseArgs* args, string argument)
    {
        if (LibFuse.OptAddArg(args, argument) != 0)
        {
            throw new OutOfMemoryException("fuse_opt_add_arg failed.");
        }
    }

    private void Start()
    {
        try
        {
            if (_options.HandleTerminationSignals)
            {
                foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGQUIT })
                {
                    _signalRegistrations.Add(PosixSignalRegistration.Create(signal, OnTerminationSignal));
                }
            }

            _loopThread.Start();
        }
        catch
        {
            // No loop will run, so tear the fresh mount down here instead of leaving it dead.
            foreach (var registration in _signalRegistrations)
            {
                registration.Dispose();
            }

            LibFuse.SessionUnmount(_session);
            LibFuse.SessionDestroy(_session);
            _session = 0;
            _userData.Free();
            throw;
        }
    }

    private void OnTerminationSignal(PosixSignalContext context)
    {
        // The first signal keeps the process alive long enough to unmount cleanly (the host learns
        // about it from WaitAsync); a second one gets the default behaviour, so a stuck unmount can
        // still be interrupted from the terminal.
        if (Interlocked.Increment(ref _signalCount) == 1)
        {
            context.Cancel = true;
            ThreadPool.QueueUserWorkItem(static mount => mount.RequestUnmount(), this, preferLocal: false);
        }
    }

    private void RunLoop()
    {
        Exception? failure = null;
        try
        {
            nint config = LibFuse.LoopConfigCreate();
            if (config == 0)
            {
                throw new InvalidOperationException("fuse_loop_cfg_create failed.");
            }

            try
            {
                LibFuse.LoopConfigSetMaxThreads(config, (uint)_options.MaxThreads);
                // Keep idle workers alive: a new libfuse thread costs a runtime attach on its first callback.
                LibFuse.LoopConfigSetIdleThreads(config, (uint)_options.MaxThreads);
                int result = LibFuse.SessionLoopMultiThreaded(_session, config);
                if (result != 0)
                {
                    failure = new IOException($"The FUSE session loop for '{MountPoint}' ended with error {result}.");
                }
            }
            finally
            {
                LibFuse.LoopConfigDestroy(config);
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            lock (_gate)
            {
                // fuse_session_unmount closes /dev/fuse first (aborting the connection if it is still
                // up) and only unmounts if poll() does not already report the connection gone.
                LibFuse.SessionUnmount(_session);
                LibFuse.SessionDestroy(_session);
                _session = 0;
            }

            _userData.Free();
            foreach (var registration in _signalRegistrations)
            {
                registration.Dispose();
            }
        }

        if (failure is null)
        {
            _stopped.TrySetResult();
        }
        else
        {
            _fileSystem.ReportError("session loop", failure);
            _stopped.TrySetException(failure);
        }
    }

    /// <summary>
    /// Tells the loop to stop and makes sure it notices. fuse_session_exit alone only sets a flag
    /// that workers test after their next request, so the kernel mount is taken away as well: a
    /// plain unmount aborts the connection and wakes every worker blocked in read(/dev/fuse) with
    /// ENODEV. If the mount is busy (files open), one statfs through the mount point is sent
    /// instead; the worker that answers it sees the flag and ends the loop, and libfuse's
    /// fuse_session_unmount then closes /dev/fuse (open handles get ENOTCONN) and detaches lazily.
    /// The blocking part runs outside <see cref="_gate"/> so the loop thread can always finish.
    /// </summary>
    private void RequestUnmount()
    {
        lock (_gate)
        {
            if (_session == 0 || _unmountRequested)
            {
                return;
            }

            _unmountRequested = true;
            LibFuse.SessionExit(_session);
            if (!IsConnectionAlive())
            {
                return; // Unmounted from outside: the workers already got ENODEV.
            }
        }

        if (!TryUnmountKernelMount())
        {
            WakeSessionLoop();
        }
    }

    private unsafe bool IsConnectionAlive()
    {
        var descriptor = new PollFd { FileDescriptor = LibFuse.SessionFd(_session) };
        if (descriptor.FileDescriptor < 0)
        {
            return false;
        }

        // POLLERR on /dev/fuse means the kernel has already torn the connection down (external unmount).
        return LibC.Poll(&descriptor, 1, 0) < 0 || (descriptor.ReturnedEvents & PollFd.PollErr) == 0;
    }

    /// <summary>Non-lazy unmount (umount2 as root, fusermount3 otherwise); false when the mount is busy or the attempt failed.</summary>
    private bool TryUnmountKernelMount()
    {
        if (LibC.GetEffectiveUid() != 0)
        {
            return Fusermount.Unmount(MountPoint, lazy: false, _options.UnmountTimeout) == 0;
        }

        if (LibC.Umount2(MountPoint, 0) == 0)
        {
            return true;
        }

        int error = Marshal.GetLastPInvokeError();
        if (error != Errno.EBUSY)
        {
            _fileSystem.ReportError("unmount", new IOException($"umount2('{MountPoint}') failed with errno {error}.", error));
        }

        return false;
    }

    private unsafe void WakeSessionLoop()
    {
        StatVfs ignored;
        LibC.StatVfs(MountPoint, &ignored);
    }
}
