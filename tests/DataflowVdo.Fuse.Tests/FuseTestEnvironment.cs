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

    /// <summary>Why FUSE tests cannot run here (naming the packages to install), or null.</summary>
    public static string? UnavailableReason { get; } = FuseAvailability.Problem();

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
            if (mount.MountPoint.StartsWith(TempRoot + "/", StringComparison.Ordinal) && IsAbandoned(mount.MountPoint))
            {
                TestContext.Progress.WriteLine($"Removing leftover mount {mount.MountPoint} ({mount.FileSystemType})");
                ForceUnmount(mount.MountPoint);
            }
        }

        foreach (string directory in Directory.GetDirectories(TempRoot).Where(IsAbandoned))
        {
            TryDeleteEmptyDirectory(directory);
        }
    }

    /// <summary>
    /// A new directory under <see cref="TempRoot"/> named after this process (<c>KIND-{pid}-{id}</c>, not
    /// created), so that the leftover cleanup of a test run going on beside this one leaves it alone.
    /// </summary>
    public static string NewDirectoryName(string kind) =>
        Path.Combine(TempRoot, $"{kind}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..12]}");

    /// <summary>
    /// True when <paramref name="path"/> (under <see cref="TempRoot"/>) lies in a directory made by a
    /// process that is no longer running, or by an older run whose names carry no owner.
    /// </summary>
    public static bool IsAbandoned(string path)
    {
        var top = path[(TempRoot.Length + 1)..].Split('/')[0].Split('-');
        if (top.Length < 3 || !int.TryParse(top[^2], out var pid))
            return true;
        return pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}");
    }

    /// <summary>Skips the test, naming the missing packages, unless FUSE can be mounted here.</summary>
    public static void RequireFuse() => RequireFuse(UnavailableReason);

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

    /// <summary>
    /// The reason a test is skipped: <paramref name="problem"/> (naming the package), and that <c>bash .ci/run</c> installs every package the full suite needs.
    /// </summary>
    public static string SkipReason(string problem) =>
        $"{problem} (bash .ci/run installs every system package the full suite needs)";

    /// <summary>The guard every mounting test runs, for a given availability problem (null: none).</summary>
    internal static void RequireFuse(string? problem)
    {
        if (problem is not null)
        {
            Assert.Ignore(SkipReason(problem));
        }
    }

    /// <summary>Skips unless libfuse3 itself can be used (tests of the binding that mount nothing).</summary>
    public static void RequireLibFuse()
    {
        string? problem = FuseAvailability.LibraryProblem();
        if (problem is not null)
        {
            Assert.Ignore(SkipReason($"{problem}. Install with: {FuseAvailability.InstallCommand}"));
        }
    }

    /// <summary>Skips unless <paramref name="program"/> is on PATH, naming the package that provides it.</summary>
    public static void RequireProgram(string program, string package)
    {
        if (Run("sh", ["-c", $"command -v {program}"]).ExitCode != 0)
        {
            Assert.Ignore(SkipReason($"{program} is not installed (apt-get install {package})"));
        }
    }
}
