using System.Diagnostics;

namespace DataflowVdo.Fuse;

/// <summary>
/// Runs the setuid fusermount3 helper, the only way an unprivileged process can unmount its FUSE
/// mount. (Root uses umount2 directly; see <see cref="FuseMount"/>.)
/// </summary>
internal static class Fusermount
{
    public const string Program = "fusermount3";

    /// <summary>Runs <c>fusermount3 -u [-z] -q -- path</c>; returns the exit code, or -1 if it could not run or timed out.</summary>
    public static int Unmount(string mountPoint, bool lazy, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(Program)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-u");
        if (lazy)
        {
            start.ArgumentList.Add("-z");
        }

        start.ArgumentList.Add("-q");
        start.ArgumentList.Add("--");
        start.ArgumentList.Add(mountPoint);
        try
        {
            using var process = Process.Start(start);
            if (process is null)
            {
                return -1;
            }

            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return -1;
            }

            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1; // Not installed.
        }
    }
}
