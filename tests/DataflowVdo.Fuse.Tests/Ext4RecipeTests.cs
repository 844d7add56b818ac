using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using static DataflowVdo.Fuse.Tests.FuseTestEnvironment;

namespace DataflowVdo.Fuse.Tests;

/// <summary>
/// The README's recipe end to end on a pool in a file: mount the pool, attach the image to a
/// loop device (direct I/O, 4 KiB sectors), mkfs.ext4, mount, copy /usr/share/doc in, sync,
/// unmount, e2fsck -fn clean, detach, unmount, close the pool; then reopen, remount and check
/// the SHA-256 of every file. Needs root (losetup, mount) and e2fsprogs; skipped otherwise.
/// Loop devices are shared by the machine: only the one this test attached is ever detached.
/// </summary>
public sealed class Ext4RecipeTests
{
    private const string Source = "/usr/share/doc";

    /// <summary>Detaches loop devices an aborted run left on files under the test root (only those; loop devices are shared).</summary>
    [OneTimeSetUp]
    public void DetachLeftoverLoopDevices()
    {
        if (UnavailableReason is not null || Environment.UserName != "root")
            return;
        var loops = Run("losetup", ["--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE"]);
        if (loops.ExitCode != 0)
            return;
        foreach (var line in loops.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length == 2 && parts[1].StartsWith(TempRoot + "/", StringComparison.Ordinal) && IsAbandoned(parts[1]))
            {
                TestContext.Progress.WriteLine($"Detaching leftover {parts[0]} ({parts[1]})");
                Run("losetup", ["-d", parts[0]]);
            }
        }
    }

    [Test]
    [CancelAfter(600_000)]
    public void Ext4OnAnImageSurvivesRemountWithEveryFileIntact()
    {
        RequireFuse();
        if (Environment.UserName != "root")
            Assert.Ignore("the ext4 recipe needs root (losetup, mount)");
        foreach (var (tool, package) in new[] { ("losetup", "mount"), ("mkfs.ext4", "e2fsprogs"), ("e2fsck", "e2fsprogs"), ("mount", "mount"), ("umount", "mount"), ("sha256sum", "coreutils") })
            RequireProgram(tool, package);
        if (!Directory.Exists(Source))
            Assert.Ignore($"{Source} does not exist");

        var work = NewDirectoryName("ext4");
        var ext = Path.Combine(work, "ext");
        Directory.CreateDirectory(ext);
        var poolPath = Path.Combine(work, "pool");
        var sums = Path.Combine(work, "sums.txt");
        string? loop = null;
        var extMounted = false;
        try
        {
            // Pass 1: format, make the file system, fill it.
            using (var volume = Volume.Format(FileBlockDevice.Create(poolPath, 2L * 1024 * 1024 * 1024 / 4096), new FormatParameters { LogicalBlocks = 4L * 1024 * 1024 * 1024 / 4096 }, Options(), ownsDevice: true))
            {
                volume.CreateImage("fs", 1L << 30);
                using var mount = TestMount.Create(new VolumeCatalogView(volume));
                loop = Attach(mount.PathOf("fs"));
                Must(Run("mkfs.ext4", ["-q", loop], TimeSpan.FromMinutes(2)), "mkfs.ext4");
                Must(Run("mount", [loop, ext]), "mount");
                extMounted = true;
                Must(Run("cp", ["-a", Source, Path.Combine(ext, "doc")], TimeSpan.FromMinutes(5)), "cp -a");
                Must(Run("sync", [], TimeSpan.FromMinutes(2)), "sync");
                Must(Run("sh", ["-c", $"cd '{ext}' && find . -type f -print0 | sort -z | xargs -0 -r sha256sum > '{sums}'"], TimeSpan.FromMinutes(2)), "sha256sum");
                Must(Run("umount", [ext], TimeSpan.FromMinutes(2)), "umount ext4");
                extMounted = false;
                Must(Run("e2fsck", ["-fn", loop], TimeSpan.FromMinutes(2)), "e2fsck -fn");
                Must(Run("losetup", ["-d", loop]), "losetup -d");
                loop = null;
                Assert.That(mount.Errors, Is.Empty);
            }
            var files = File.ReadAllLines(sums).Length;
            Assert.That(files, Is.GreaterThan(0), "nothing was copied");

            // Pass 2: reopen the closed pool, remount, every checksum matches.
            using (var volume = Volume.Open(FileBlockDevice.Open(poolPath), Options(), ownsDevice: true))
            {
                Assert.That(volume.Recovered, Is.False, "the pool was closed cleanly");
                var stats = volume.ImageStats("fs");
                TestContext.Progress.WriteLine($"{files} files; image fs: {stats.BlocksWritten} blocks written, {stats.SavingPercent:0.0}% saved");
                Assert.That(stats.SavingPercent, Is.GreaterThan(0), "dedupe/compression saved nothing on a real directory tree");
                using var mount = TestMount.Create(new VolumeCatalogView(volume));
                loop = Attach(mount.PathOf("fs"));
                Must(Run("mount", ["-o", "ro", loop, ext]), "mount ro");
                extMounted = true;
                Must(Run("sh", ["-c", $"cd '{ext}' && sha256sum --quiet -c '{sums}'"], TimeSpan.FromMinutes(2)), "sha256sum -c");
                Must(Run("umount", [ext], TimeSpan.FromMinutes(2)), "umount ext4");
                extMounted = false;
                Must(Run("losetup", ["-d", loop]), "losetup -d");
                loop = null;
                Assert.That(volume.Check(), Is.Empty);
            }
        }
        finally
        {
            if (extMounted)
                Run("umount", ["-l", ext]);
            if (loop is not null)
                Run("losetup", ["-d", loop]); // only the device this test attached
            File.Delete(poolPath);
            File.Delete(sums);
            TryDeleteEmptyDirectory(ext);
            TryDeleteEmptyDirectory(work);
        }
    }

    private static VdoOptions Options()
    {
        var o = new VdoOptions();
        o.Volume.BlockMapCacheMb = 16;
        o.Index.MemoryMb = 16;
        return o;
    }

    private static string Attach(string file)
    {
        var result = Run("losetup", ["-f", "--show", "--direct-io=on", "--sector-size", "4096", file]);
        Must(result, "losetup -f");
        return result.Output.Trim();
    }

    private static void Must((int ExitCode, string Output, string Error) result, string what) =>
        Assert.That(result.ExitCode, Is.Zero, $"{what} failed: {result.Error}{result.Output}");
}
