using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Images;

namespace DataflowVdo.Tests.Backup;

/// <summary>
/// <c>dvdo ingest</c> and <c>restore</c> on a mounted pool: the mount does them through its live
/// socket, the backup shows in the mount read-only with its original length and bytes, it
/// dedupes against a VM image of the same mount, and a client killed mid-stream leaves nothing.
/// Skipped without /dev/fuse or fusermount3.
/// </summary>
[NonParallelizable]
public sealed class BackupWhileMountedTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        DvdoProcess.RequireFuse();
        _dir = Path.Combine(Path.GetTempPath(), $"dvdo-backup-mount-{Guid.NewGuid():N}");
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

    private static (int Code, string Out, string Err) Dvdo(params string[] args) => DvdoProcess.Exec(DvdoProcess.Executable, args);

    private static long DataBlocksUsed(string pool)
    {
        using var stats = System.Text.Json.JsonDocument.Parse(DvdoProcess.Must("stats", Dvdo("stats", pool, "--json")));
        return stats.RootElement.GetProperty("dataBlocksUsed").GetInt64();
    }

    [Test]
    [CancelAfter(120_000)]
    public void IngestAndRestoreGoThroughTheMountAndShareItsDedupeDomain()
    {
        var pool = Path.Combine(_dir, "p.pool");
        var mnt = Path.Combine(_dir, "mnt");
        Directory.CreateDirectory(mnt);
        using (var v = Volume.Format(FileBlockDevice.Create(pool, 32768), new FormatParameters { SlabBlocks = 2048, LogicalBlocks = 1 << 21 }, ownsDevice: true))
            v.CreateImage("vm", 8 << 20);
        var data = BackupStreams.Random(3_000_001, 7);
        var input = Path.Combine(_dir, "in.bin");
        File.WriteAllBytes(input, data);

        using (var mount = DvdoProcess.Start("mount", pool, mnt))
        {
            mount.WaitFor("mounted");
            // The VM image holds the first 2 MiB of the stream, block-aligned.
            Task.Run(() =>
            {
                using var handle = File.OpenHandle(Path.Combine(mnt, "vm"), FileMode.Open, FileAccess.ReadWrite);
                RandomAccess.Write(handle, data.AsSpan(0, 2 << 20), 0);
                RandomAccess.FlushToDisk(handle);
            }).Wait(DvdoProcess.Deadline);

            var ingest = DvdoProcess.Must("ingest while mounted", DvdoProcess.Exec("sh", "-c", $"cat '{input}' | '{DvdoProcess.Executable}' ingest '{pool}' --name nightly --align fixed --json"));
            using (var json = System.Text.Json.JsonDocument.Parse(ingest))
            {
                // 2 MiB of the 3 MB dedupe against the VM image: at most ~1 MB is new.
                Assert.That(json.RootElement.GetProperty("storedBytes").GetInt64(), Is.LessThan(1_100_000), ingest);
            }
            Assert.That(Dvdo("ingest", pool, "--name", "nightly", input).Err, Does.Contain("already exists"));

            var shown = Path.Combine(mnt, "nightly");
            Assert.That(new FileInfo(shown).Length, Is.EqualTo(data.Length));
            Assert.That(File.ReadAllBytes(shown), Is.EqualTo(data));
            var e = Assert.Catch<IOException>(() => File.OpenHandle(shown, FileMode.Open, FileAccess.ReadWrite).Dispose());
            Assert.That(e!.Message, Does.Contain("Read-only file system"));

            var output = Path.Combine(_dir, "out.bin");
            var restore = Dvdo("restore", pool, "nightly", "-o", output);
            Assert.That(restore.Code, Is.Zero, restore.Err);
            Assert.That(File.ReadAllBytes(output), Is.EqualTo(data));
            Assert.That(Dvdo("image", "ls", pool).Out, Does.Match(@"nightly\s+backup"));

            // A client killed mid-stream: the mount rolls its ingest back. The client reads a FIFO that
            // the test keeps open, so its stream neither ends nor fills the pool before the kill.
            var fifo = Path.Combine(_dir, "stream.fifo");
            DvdoProcess.Must("mkfifo", DvdoProcess.Exec("mkfifo", fifo));
            using (var killed = DvdoProcess.Start("ingest", pool, "--name", "killed", fifo))
            using (var stream = new FileStream(fifo, FileMode.Open, FileAccess.Write))
            {
                stream.Write(BackupStreams.Random(24 << 20, 8)); // 6144 blocks, at most a few MiB of them still buffered
                stream.Flush();
                // Until the pool holds 2000+ data blocks (the VM's 512 and the backup's ~250 before it); each probe is a dvdo process.
                SpinWait.SpinUntil(() => killed.Process.HasExited || DataBlocksUsed(pool) >= 2000, DvdoProcess.Deadline);
                Assert.That(killed.Process.HasExited, Is.False, killed.Stderr);
                killed.Process.Kill();
                killed.Process.WaitForExit();
            }
            // The name is free once the mount has rolled the killed ingest back; each probe is a dvdo process.
            SpinWait.SpinUntil(() => Dvdo("ingest", pool, "--name", "killed", input).Code == 0, DvdoProcess.Deadline);
            DvdoProcess.Must("fusermount3", DvdoProcess.Exec("fusermount3", "-u", mnt));
            Assert.That(mount.WaitForExit(), Is.True);
        }
        Assert.That(DvdoProcess.Must("check", Dvdo("check", pool)), Does.Contain("consistent"));
        Assert.That(Dvdo("image", "ls", pool).Out, Does.Contain("killed").And.Contain("nightly"));
    }

    [Test]
    [CancelAfter(120_000)]
    public void AnIngestThroughTheMountReportsItsProgressWhileItRuns()
    {
        var pool = Path.Combine(_dir, "p.pool");
        var mnt = Path.Combine(_dir, "mnt");
        Directory.CreateDirectory(mnt);
        using (Volume.Format(FileBlockDevice.Create(pool, 32768), new FormatParameters { SlabBlocks = 2048, LogicalBlocks = 1 << 21 }, ownsDevice: true))
        {
        }
        var data = BackupStreams.Compressible(8_000_000, 9);
        using var mount = DvdoProcess.Start("mount", pool, mnt);
        mount.WaitFor("mounted");

        // The client sends half the stream, then waits until the mount has reported reading it.
        var progress = new DataflowVdo.Pipeline.Backup.IngestProgress();
        var input = new HalfThenWait(data, () => progress.BytesRead >= data.Length / 2);
        var request = new DataflowVdo.Cli.LiveBackup.IngestRequest("nightly", "cdc", 16384, 32768, 131072, data.Length);
        Assert.That(DataflowVdo.Cli.LiveBackup.TryIngest(pool, request, input, CancellationToken.None, out var code, out var summary, progress), Is.True, "a mount answers");
        Assert.That(code, Is.Zero);
        Assert.That(input.SawProgressHalfWay, Is.True, "the mount reported the first half read while the ingest ran");
        Assert.That(progress.BytesRead, Is.EqualTo(data.Length), "the last report covers the whole stream");
        Assert.That(progress.BlocksWritten, Is.GreaterThanOrEqualTo(data.Length / 4096));
        Assert.That(progress.StoredBlocks, Is.InRange(1, progress.BlocksWritten), "savings so far: compressible text is stored in fewer blocks");
        using (var json = System.Text.Json.JsonDocument.Parse(summary!))
            Assert.That(json.RootElement.GetProperty("bytes").GetInt64(), Is.EqualTo(data.Length));

        DvdoProcess.Must("fusermount3", DvdoProcess.Exec("fusermount3", "-u", mnt));
        Assert.That(mount.WaitForExit(), Is.True);
    }

    /// <summary>Gives the first half of <paramref name="data"/>, then waits (up to the deadline) for <paramref name="reported"/> before the rest.</summary>
    private sealed class HalfThenWait(byte[] data, Func<bool> reported) : Stream
    {
        private int _at;

        public bool SawProgressHalfWay { get; private set; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var half = data.Length / 2;
            if (_at == half && !SawProgressHalfWay)
                SawProgressHalfWay = SpinWait.SpinUntil(reported, DvdoProcess.Deadline);
            var end = _at < half ? half : data.Length;
            var n = Math.Min(count, end - _at);
            data.AsSpan(_at, n).CopyTo(buffer.AsSpan(offset, n));
            _at += n;
            return n;
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => data.Length;

        public override long Position { get => _at; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
