using System.Diagnostics;
using System.Text;
using DataflowVdo.Cli;
using DataflowVdo.Fuse;

namespace DataflowVdo.Tests.Images;

/// <summary>
/// The <c>dvdo</c> executable next to the tests, run as a separate process (a mount has to be, so
/// that it can be signalled or killed), and other programs run with a deadline.
/// </summary>
internal sealed class DvdoProcess : IDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly StringBuilder _stderr = new();
    private readonly ManualResetEventSlim _stderrChanged = new();

    private DvdoProcess(Process process) => Process = process;

    public Process Process { get; }

    public string Stderr
    {
        get
        {
            lock (_stderr)
                return _stderr.ToString();
        }
    }

    public static string Executable => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(typeof(Program).Assembly.Location)!, "dvdo");

    /// <summary>Skips the test unless FUSE can be mounted here, naming the missing packages.</summary>
    public static void RequireFuse()
    {
        var problem = FuseAvailability.Problem();
        if (problem is not null)
            Assert.Ignore(SkipReason(problem));
    }

    /// <summary>Skips the test unless <paramref name="program"/> is on PATH, naming the package that provides it.</summary>
    public static void RequireProgram(string program, string package)
    {
        if (Exec("sh", "-c", $"command -v {program}").Code != 0)
            Assert.Ignore(SkipReason($"{program} is not installed (apt-get install {package})"));
    }

    /// <summary>Why a test needing a system package is skipped: the problem, and how to get everything.</summary>
    public static string SkipReason(string problem) =>
        $"{problem} (bash .ci/run installs every system package the full suite needs)";

    /// <summary>Starts <c>dvdo args...</c> in the background, collecting its stderr.</summary>
    public static DvdoProcess Start(params string[] args)
    {
        // As a terminal would start it: a test run launched as a background job (`.ci/run &`)
        // has SIGINT and SIGQUIT ignored, every child inherits that, and the SIGINT case would
        // then wait for an unmount that never comes. env execs, so the pid is dvdo's.
        var start = new ProcessStartInfo("env") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("--default-signal=INT,QUIT");
        start.ArgumentList.Add("--");
        start.ArgumentList.Add(Executable);
        foreach (var a in args)
            start.ArgumentList.Add(a);
        var running = new DvdoProcess(System.Diagnostics.Process.Start(start)!);
        running.Process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (running._stderr)
                    running._stderr.AppendLine(e.Data);
                running._stderrChanged.Set();
            }
        };
        running.Process.BeginErrorReadLine();
        running.Process.BeginOutputReadLine();
        return running;
    }

    /// <summary>Waits until stderr contains <paramref name="text"/>; fails if the process exits first.</summary>
    public void WaitFor(string text)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < Deadline)
        {
            _stderrChanged.Reset(); // before looking, so a line logged meanwhile still wakes the wait
            if (Stderr.Contains(text, StringComparison.Ordinal))
                return;
            if (Process.HasExited)
                Assert.Fail($"dvdo exited with {Process.ExitCode}: {Stderr}");
            // Woken by the next stderr line; the timeout only bounds how late an exit is noticed.
            _stderrChanged.Wait(TimeSpan.FromMilliseconds(200));
        }
        Assert.Fail($"dvdo did not log '{text}': {Stderr}");
    }

    /// <summary>Runs a program to completion (killed after the deadline): exit code, stdout, stderr.</summary>
    public static (int Code, string Out, string Err) Exec(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args)
            start.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(start)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(Deadline))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return (-1, o.Result, e.Result + $"\n[{program} killed after {Deadline}]");
        }
        // A descendant that kept the output pipes open (a daemon) must fail the test, not hang it.
        if (!Task.WaitAll([o, e], Deadline))
            return (p.ExitCode, "", $"[{program} exited but a descendant holds its output open]");
        return (p.ExitCode, o.Result, e.Result);
    }

    /// <summary>Asserts a zero exit code, showing the program's output otherwise.</summary>
    public static string Must(string what, (int Code, string Out, string Err) result)
    {
        Assert.That(result.Code, Is.Zero, $"{what} failed: {result.Err}{result.Out}");
        return result.Out;
    }

    /// <summary>
    /// Waits up to the deadline for the process to exit and then for the end of its redirected
    /// output: <see cref="Process.WaitForExit(TimeSpan)"/> alone returns before the last stderr
    /// lines (such as "unmounted") have been delivered.
    /// </summary>
    public bool WaitForExit()
    {
        if (!Process.WaitForExit(Deadline))
            return false;
        Process.WaitForExit();
        return true;
    }

    /// <summary>Kills the process if it still runs.</summary>
    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill();
            Process.WaitForExit();
        }
        Process.Dispose();
    }
}
