using System.Diagnostics;

namespace DataflowVdo.Cli.Commands;

/// <summary>
/// <c>dvdo mount --background</c>: starts the same mount as a new session (setsid, so a closing
/// terminal does not take it down), logging to a file, and returns once the mount is up — or
/// fails with the child's log if it could not mount.
/// </summary>
internal static class MountBackground
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    public static int Detach(string pool, string mountPoint, string log)
    {
        var full = Path.GetFullPath(mountPoint);
        // sh redirects the child's stdin, stdout and stderr (native libfuse output included) to the
        // log before exec'ing setsid: the child must not hold the caller's pipes or terminal.
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("log=$1; shift; exec setsid \"$@\" >>\"$log\" 2>&1 </dev/null");
        start.ArgumentList.Add("sh");
        start.ArgumentList.Add(Path.GetFullPath(log));
        start.ArgumentList.Add(Environment.ProcessPath ?? throw new IOException("cannot find the dvdo executable to start in the background"));
        var args = Environment.GetCommandLineArgs();
        // Under 'dotnet dvdo.dll', the process is dotnet and the first argument the assembly.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath).Equals("dotnet", StringComparison.Ordinal))
            start.ArgumentList.Add(args[0]);
        foreach (var a in args.Skip(1))
        {
            if (a != "--background")
                start.ArgumentList.Add(a);
        }
        File.WriteAllText(log, ""); // fresh log; the child appends
        using var child = Process.Start(start) ?? throw new IOException("could not start the background mount");
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < Deadline)
        {
            if (IsMounted(full))
            {
                Console.WriteLine($"mounted {pool} on {full} in the background (pid {child.Id}, log {log}); 'fusermount3 -u {full}' unmounts");
                return 0;
            }
            if (child.WaitForExit(100))
            {
                Console.Error.Write(File.ReadAllText(log));
                Console.Error.WriteLine($"dvdo: the background mount exited with {child.ExitCode} before mounting");
                return child.ExitCode == 0 ? CommandRunner.Failed : child.ExitCode;
            }
        }
        child.Kill(entireProcessTree: true);
        throw new IOException($"the background mount did not come up within {Deadline.TotalSeconds:0} s; see {log}");
    }

    private static bool IsMounted(string mountPoint)
    {
        // /proc/self/mountinfo field 5 is the mount point (spaces escaped as \040).
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length > 4 && fields[4].Replace("\\040", " ", StringComparison.Ordinal) == mountPoint)
                return true;
        }
        return false;
    }
}
