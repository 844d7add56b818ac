using DataflowVdo.Fuse;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Tests.Images;

/// <summary>
/// <c>dvdo mount</c> as a separate process: it serves the images, refuses a second mount of the
/// same pool, and on SIGINT, SIGTERM or an external <c>fusermount3 -u</c> unmounts and closes the
/// pool cleanly (no recovery at the next open). Skipped without /dev/fuse or fusermount3.
/// </summary>
[NonParallelizable]
public sealed class MountCommandTests
{
    private static readonly TimeSpan Deadline = DvdoProcess.Deadline;

    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        DvdoProcess.RequireFuse();
        _dir = OwnedTempDirectory.NewName(Path.Combine(Path.GetTempPath(), "dvdo-mount-cli-"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        if (_dir is not null && Directory.Exists(_dir))
        {
            foreach (var d in Directory.GetDirectories(_dir))
                DvdoProcess.Exec("fusermount3", "-u", "-z", "-q", d); // never leave a mount behind
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public void MountServesImagesRefusesASecondMountAndClosesCleanly([Values("SIGTERM", "SIGINT", "fusermount3")] string stop)
    {
        var pool = Path.Combine(_dir, "p.pool");
        var mnt = Path.Combine(_dir, "mnt");
        var other = Path.Combine(_dir, "other");
        Directory.CreateDirectory(mnt);
        Directory.CreateDirectory(other);
        using (var v = Volume.Format(FileBlockDevice.Create(pool, 16384), new FormatParameters { SlabBlocks = 2048, LogicalBlocks = 1 << 20 }, ownsDevice: true))
            v.CreateImage("vm", 1 << 20);

        using (var mount = DvdoProcess.Start("mount", pool, mnt))
        {
            mount.WaitFor("mounted");
            var second = DvdoProcess.Exec(DvdoProcess.Executable, "mount", pool, other);
            Assert.That(second.Code, Is.EqualTo(1), second.Err);
            Assert.That(second.Err, Does.Contain("in use by another process"));

            var data = new byte[10000];
            new Random(5).NextBytes(data);
            var path = Path.Combine(mnt, "vm");
            Task.Run(() =>
            {
                using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
                RandomAccess.Write(handle, data, 1000);
                RandomAccess.FlushToDisk(handle);
            }).Wait(Deadline);

            // Live figures from the mount process while the pool file is locked.
            var stats = DvdoProcess.Exec(DvdoProcess.Executable, "stats", pool, "--json");
            Assert.That(stats.Code, Is.Zero, stats.Err);
            using (var json = System.Text.Json.JsonDocument.Parse(stats.Out))
                Assert.That(json.RootElement.GetProperty("logicalBlocksUsed").GetInt64(), Is.EqualTo(3), "10000 bytes at offset 1000 touch blocks 0..2");
            var ls = DvdoProcess.Exec(DvdoProcess.Executable, "image", "ls", pool);
            Assert.That(ls.Code, Is.Zero, ls.Err);
            Assert.That(ls.Out, Does.Match(@"vm\s+block\s+1\.0 MiB\s+3\s"));
            var socket = Path.Combine(_dir, ".p.pool.dvdo.sock");
            Assert.That(File.Exists(socket), Is.True);
            Assert.That(File.GetUnixFileMode(socket), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));

            var signal = stop switch
            {
                "SIGTERM" => DvdoProcess.Exec("kill", "-TERM", mount.Process.Id.ToString()),
                "SIGINT" => DvdoProcess.Exec("kill", "-INT", mount.Process.Id.ToString()),
                _ => DvdoProcess.Exec("fusermount3", "-u", mnt),
            };
            Assert.That(signal.Code, Is.Zero, signal.Err);
            Assert.That(mount.WaitForExit(), Is.True, () => "dvdo mount did not exit: " + mount.Stderr);
            Assert.That(mount.Process.ExitCode, Is.Zero, mount.Stderr);
            Assert.That(mount.Stderr, Does.Contain("unmounted"));
            Assert.That(File.ReadAllText("/proc/self/mountinfo"), Does.Not.Contain(mnt));
            Assert.That(File.Exists(socket), Is.False, "the live-figures socket is removed at unmount");

            using var volume = Volume.Open(FileBlockDevice.Open(pool), ownsDevice: true);
            Assert.That(volume.Recovered, Is.False, "the pool was closed cleanly");
            var back = new byte[data.Length];
            new VolumeImageFile(volume, volume.FindImage("vm")!).Read(1000, back);
            Assert.That(back, Is.EqualTo(data));
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public void GraphLiveDrawsTheMountsRunningGraphLabelledWithTheLastSecondsFigures()
    {
        var pool = Path.Combine(_dir, "g.pool");
        var mnt = Path.Combine(_dir, "mnt");
        Directory.CreateDirectory(mnt);
        using (var v = Volume.Format(FileBlockDevice.Create(pool, 16384), new FormatParameters { SlabBlocks = 2048, LogicalBlocks = 1 << 20 }, ownsDevice: true))
            v.CreateImage("vm", 16 << 20);
        var notMounted = DvdoProcess.Exec(DvdoProcess.Executable, "graph", "--live", pool);
        Assert.That(notMounted.Code, Is.EqualTo(1));
        Assert.That(notMounted.Err, Does.Contain(pool).And.Contain("no `dvdo mount`"));

        using var mount = DvdoProcess.Start("mount", pool, mnt, "--set", "Pipeline:Scheme=MessagePassing", "--set", "Pipeline:LogicalZones=2");
        mount.WaitFor("mounted");
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            using var handle = File.OpenHandle(Path.Combine(mnt, "vm"), FileMode.Open, FileAccess.ReadWrite);
            var buffer = new byte[64 << 10];
            var random = new Random(9);
            for (long offset = 0; !stop.IsCancellationRequested; offset = (offset + buffer.Length) % (16 << 20))
            {
                random.NextBytes(buffer);
                RandomAccess.Write(handle, buffer, offset);
            }
        });
        var graph = DvdoProcess.Exec(DvdoProcess.Executable, "graph", "--live", pool, "--format", "mermaid");
        stop.Cancel();
        Assert.That(writer.Wait(Deadline), Is.True, "the writer stopped");
        Assert.That(graph.Code, Is.Zero, graph.Err);
        Assert.That(graph.Out, Does.StartWith("flowchart LR"), "the mount runs MessagePassing: no note about another scheme");
        Assert.That(graph.Out, Does.Contain("logical1"), "the mount's own configuration (two logical zones) is drawn");
        var hash = System.Text.RegularExpressions.Regex.Match(graph.Out, @"\bhash\S*""[^\n]*?(\d+) msg/s, busy \d+%, queue \d+\.\d");
        Assert.That(hash.Success, Is.True, graph.Out);
        Assert.That(long.Parse(hash.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThan(0), "writes went through the hash pool during that second");

        Assert.That(DvdoProcess.Exec("fusermount3", "-u", mnt).Code, Is.Zero);
        Assert.That(mount.WaitForExit(), Is.True, () => "dvdo mount did not exit: " + mount.Stderr);
        Assert.That(mount.Process.ExitCode, Is.Zero, mount.Stderr);
    }

    [Test]
    [CancelAfter(120_000)]
    public void BackgroundMountReturnsOnceMountedLogsToAFileAndClosesCleanlyOnUnmount()
    {
        var pool = Path.Combine(_dir, "b.pool");
        var mnt = Path.Combine(_dir, "mnt");
        Directory.CreateDirectory(mnt);
        using (var v = Volume.Format(FileBlockDevice.Create(pool, 16384), new FormatParameters { SlabBlocks = 2048, LogicalBlocks = 1 << 20 }, ownsDevice: true))
            v.CreateImage("disk", 1 << 20);

        var started = DvdoProcess.Exec(DvdoProcess.Executable, "mount", pool, mnt, "--background");
        Assert.That(started.Code, Is.Zero, started.Err);
        var pid = int.Parse(System.Text.RegularExpressions.Regex.Match(started.Out, @"pid (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        using var child = System.Diagnostics.Process.GetProcessById(pid);
        Assert.That(File.ReadAllText("/proc/self/mountinfo"), Does.Contain(mnt), "mounted when the command returns");
        using (var handle = File.OpenHandle(Path.Combine(mnt, "disk"), FileMode.Open, FileAccess.Write))
            RandomAccess.Write(handle, new byte[1 << 20], 0); // a full-size write through the mount

        Assert.That(DvdoProcess.Exec("fusermount3", "-u", mnt).Code, Is.Zero);
        Assert.That(child.WaitForExit(Deadline), Is.True, "the background mount exits after the unmount");
        var log = File.ReadAllText(pool + ".mount.log");
        Assert.That(log, Does.Contain("mounted").And.Contain("unmounted; closing the pool"));
        using (var volume = Volume.Open(FileBlockDevice.Open(pool), ownsDevice: true))
            Assert.That(volume.Recovered, Is.False, "the pool was closed cleanly");

        var failed = DvdoProcess.Exec(DvdoProcess.Executable, "mount", pool, Path.Combine(_dir, "missing"), "--background");
        Assert.That(failed.Code, Is.Not.Zero);
        Assert.That(failed.Err, Does.Contain("does not exist"), "the child's error reaches the caller");
    }
}
