using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using static DataflowVdo.Tests.Images.DvdoProcess;

namespace DataflowVdo.Tests.Images;

/// <summary>
/// Crash under ext4: a file system on an image of a mounted pool (loop device, direct I/O),
/// files written and synced, more written without a sync, then <c>kill -9</c> of
/// <c>dvdo mount</c>. After cleaning up (lazy unmount, detach our loop device, fusermount3 -u -z):
/// <c>dvdo check</c> recovers the pool and finds it consistent, ext4 replays its journal on the
/// remount, <c>e2fsck -fn</c> is clean and every synced file is intact. Root only.
/// </summary>
[NonParallelizable]
public sealed class Ext4CrashTests
{
    [Test]
    [CancelAfter(600_000)]
    public void SyncedFilesSurviveKillDashNineOfTheMount()
    {
        RequireFuse();
        if (Environment.UserName != "root")
            Assert.Ignore("needs root (losetup, mount)");
        foreach (var (tool, package) in new[] { ("losetup", "mount"), ("mkfs.ext4", "e2fsprogs"), ("e2fsck", "e2fsprogs"), ("mount", "mount"), ("umount", "mount"), ("sha256sum", "coreutils") })
            RequireProgram(tool, package);
        if (!Directory.Exists("/usr/share/doc"))
            Assert.Ignore("/usr/share/doc does not exist");

        var dir = OwnedTempDirectory.NewName(Path.Combine(Path.GetTempPath(), "dvdo-ext4-crash-"));
        var pool = Path.Combine(dir, "pool");
        var mnt = Path.Combine(dir, "mnt");
        var ext = Path.Combine(dir, "ext");
        var sums = Path.Combine(dir, "sums.txt");
        Directory.CreateDirectory(mnt);
        Directory.CreateDirectory(ext);
        string? loop = null;
        DvdoProcess? mount = null;
        try
        {
            using (var v = Volume.Format(FileBlockDevice.Create(pool, 1L << 18), new FormatParameters { LogicalBlocks = 1L << 20 }, ownsDevice: true))
                v.CreateImage("fs", 512L << 20);

            mount = Start("mount", pool, mnt);
            mount.WaitFor("mounted");
            loop = Attach(Path.Combine(mnt, "fs"));
            Must("mkfs.ext4", Exec("mkfs.ext4", "-q", loop));
            Must("mount", Exec("mount", loop, ext));
            Must("cp -a", Exec("cp", "-a", "/usr/share/doc", Path.Combine(ext, "doc")));
            Must("random files", Exec("sh", "-c", $"mkdir '{ext}/d' && for i in $(seq 1 30); do head -c $((i*10000)) /dev/urandom > '{ext}/d/f'$i; done"));
            Must("sync", Exec("sync"));
            Must("sha256sum", Exec("sh", "-c", $"cd '{ext}' && find . -type f -print0 | sort -z | xargs -0 -r sha256sum > '{sums}'"));
            // Written but never synced: may be lost, must not damage anything.
            Must("unsynced files", Exec("sh", "-c", $"for i in $(seq 1 20); do head -c 300000 /dev/urandom > '{ext}/d/u'$i; done"));
            mount.Process.Kill(); // SIGKILL: no unmount, no clean close
            mount.Process.WaitForExit();
            Cleanup(ext, ref loop, mnt);

            var check = Exec(DvdoProcess.Executable, "check", pool);
            Assert.That(check.Code, Is.Zero, check.Out + check.Err);
            Assert.That(check.Out, Does.Contain("recovered").And.Contain("consistent"));

            mount.Dispose();
            mount = Start("mount", pool, mnt);
            mount.WaitFor("mounted");
            loop = Attach(Path.Combine(mnt, "fs"));
            Must("mount (journal replay)", Exec("mount", loop, ext));
            Must("umount", Exec("umount", ext));
            Must("e2fsck -fn", Exec("e2fsck", "-fn", loop));
            Must("mount ro", Exec("mount", "-o", "ro", loop, ext));
            Must("sha256sum -c", Exec("sh", "-c", $"cd '{ext}' && sha256sum --quiet -c '{sums}'"));
            Must("umount", Exec("umount", ext));
            Must("losetup -d", Exec("losetup", "-d", loop));
            loop = null;
            Must("fusermount3 -u", Exec("fusermount3", "-u", mnt));
            Assert.That(mount.WaitForExit(), Is.True, () => "dvdo mount did not exit: " + mount.Stderr);
            Assert.That(mount.Process.ExitCode, Is.Zero, mount.Stderr);
        }
        finally
        {
            mount?.Dispose();
            Cleanup(ext, ref loop, mnt);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Attach(string file) =>
        Must("losetup -f", Exec("losetup", "-f", "--show", "--direct-io=on", "--sector-size", "4096", file)).Trim();

    /// <summary>Lazy unmounts and detaches only our own loop device; safe to call twice.</summary>
    private static void Cleanup(string ext, ref string? loop, string mnt)
    {
        if (File.ReadAllText("/proc/self/mountinfo").Contains(" " + ext + " ", StringComparison.Ordinal))
            Exec("umount", "-l", ext);
        if (loop is not null)
        {
            Exec("losetup", "-d", loop);
            loop = null;
        }
        if (File.ReadAllText("/proc/self/mountinfo").Contains(" " + mnt + " ", StringComparison.Ordinal))
            Exec("fusermount3", "-u", "-z", mnt);
    }
}
