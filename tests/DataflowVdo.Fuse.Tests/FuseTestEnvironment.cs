using System.Diagnostics;

namespace DataflowVdo.Fuse.Tests;

/// <summary>
/// Shared test plumbing: skips when FUSE is unavailable, owns the temp root that all test mounts
/// live under, cleans up mounts left by an aborted run, and runs external tools with a timeout.
/// </summary>
[SetUpFixture]
public sealed class FuseTestEnvironment
{
    /// <summary>Upper bound for any single file operation through a mount, so a bug shows up as a failure instead of a hang.</summary>
    public static readonly TimeSpan IoTimeout = TimeSpan.FromSeconds(20);

    public static string TempRoot { get; } = Path.Combine(Path.GetTempPath(), "dvdo-fuse-tests");

    /// <summary>Why FUSE tests cannot run here, or null.</summary>
    public static string? UnavailableReason { get; } = FindUnavailableReason();

    [OneTimeSetUp]
    public void CleanLeftovers()
    {
        if (UnavailableReason is not null)
        {
            return;
        }

        Directory.CreateDirectory(TempRoot);
        foreach (var mount in MountTable.Read().Reverse())
        {
            if (mount.MountPoint.StartsWith(TempRoot + "/", StringComparison.Ordinal))
            {
                TestContext.Progress.WriteLine($"Removing leftover mount {mount.MountPoint} ({mount.FileSystemType})");
                ForceUnmount(mount.MountPoint);
            }
        }

        foreach (string directory in Directory.GetDirectories(TempRoot))
        {
            TryDeleteEmptyDirectory(directory);
        }
    }

    public static void RequireFuse()
    {
        if (UnavailableReason is not null)
        {
            Assert.Ignore(UnavailableReason);
        }
    }

    public static bool IsMounted(string mountPoint) => MountTable.Read().Any(m => m.MountPoint == mountPoint);

    /// <summary>Lazy unmount through fusermount3, then umount -l; used only as a fallback.</summary>
    public static void ForceUnmount(string mountPoint)
    {
        Run("fusermount3", ["-u", "-z", "-q", "--", mountPoint], TimeSpan.FromSeconds(10));
        if (IsMounted(mountPoint))
        {
            Run("umount", ["-l", mountPoint], TimeSpan.FromSeconds(10));
        }
    }

    public static void TryDeleteEmptyDirectory(string directory)
    {
        try
        {
            // Never recursive: if a mount survived, deleting "inside" it would hit the images.
            Directory.Delete(directory, recursive: false);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Runs a program; kills it after <paramref name="timeout"/>. Returns exit code (-1 on timeout), stdout and stderr.</summary>
    public static (int ExitCode, string Output, string Error) Run(string program, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? IoTimeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, output.Result, error.Result + $"\n[{program} killed after timeout]");
        }

        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>Runs blocking file I/O off the test thread with a deadline.</summary>
    public static Task<T> Io<T>(Func<T> operation, CancellationToken cancellationToken) =>
        Task.Run(operation, cancellationToken).WaitAsync(IoTimeout, cancellationToken);

    public static Task Io(Action operation, CancellationToken cancellationToken) =>
        Task.Run(operation, cancellationToken).WaitAsync(IoTimeout, cancellationToken);

    private static string? FindUnavailableReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "FUSE tests need Linux.";
        }

        if (!File.Exists("/dev/fuse"))
        {
            return "/dev/fuse is missing (no FUSE kernel module or not exposed to this container).";
        }

        string? path = Environment.GetEnvironmentVariable("PATH");
        bool hasFusermount = path?.Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, "fusermount3"))) == true;
        if (!hasFusermount)
        {
            return "fusermount3 is not on PATH (apt-get install fuse3).";
        }

        return null;
    }
}
