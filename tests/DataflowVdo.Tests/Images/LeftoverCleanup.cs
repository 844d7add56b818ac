namespace DataflowVdo.Tests.Images;

/// <summary>
/// Before the image tests run: removes what an aborted earlier run may have left (mounts under
/// the tests' temp directories, then the loop devices backed by files in them; never any other
/// loop device, they are shared by the machine), so a killed run does not break the next one.
/// Only what a process that is no longer running left behind is removed (see
/// <see cref="OwnedTempDirectory"/>): a test run going on beside this one keeps its mounts.
/// </summary>
[SetUpFixture]
public sealed class LeftoverCleanup
{
    /// <summary>Prefixes of the temp directories the image tests create.</summary>
    public static readonly string[] Prefixes =
        [Path.Combine(Path.GetTempPath(), "dvdo-mount-cli-"), Path.Combine(Path.GetTempPath(), "dvdo-ext4-crash-")];

    [OneTimeSetUp]
    public void Clean()
    {
        if (!File.Exists("/proc/self/mountinfo"))
            return;
        // Innermost first: ext4 on the loop device, then the FUSE mount under it.
        var mounts = File.ReadAllLines("/proc/self/mountinfo")
            .Select(l => l.Split(' ')[4])
            .Where(Ours)
            .Reverse()
            .ToList();
        foreach (var mount in mounts)
        {
            TestContext.Progress.WriteLine($"removing leftover mount {mount}");
            DvdoProcess.Exec("umount", "-l", mount);
        }
        if (DvdoProcess.Exec("sh", "-c", "command -v losetup").Code != 0)
            return; // no util-linux: no loop device can have been attached either
        var loops = DvdoProcess.Exec("losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE");
        if (loops.Code != 0)
            return;
        foreach (var line in loops.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length == 2 && Ours(parts[1]))
            {
                TestContext.Progress.WriteLine($"detaching leftover {parts[0]} ({parts[1]})");
                DvdoProcess.Exec("losetup", "-d", parts[0]);
            }
        }
        foreach (var prefix in Prefixes)
        {
            foreach (var dir in Directory.GetDirectories(Path.GetDirectoryName(prefix)!, Path.GetFileName(prefix) + "*"))
            {
                if (OwnedTempDirectory.IsAbandoned(dir, prefix) && !File.ReadAllText("/proc/self/mountinfo").Contains(dir, StringComparison.Ordinal))
                    Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static bool Ours(string path) =>
        Prefixes.Any(p => path.StartsWith(p, StringComparison.Ordinal) && OwnedTempDirectory.IsAbandoned(path, p));
}
