using System.Security.Cryptography;
using DataflowVdo.Tests.Images;

namespace DataflowVdo.Tests.Backup;

/// <summary>
/// <c>dvdo ingest</c> and <c>dvdo restore</c> as real processes: files and standard input,
/// <c>--json</c>, <c>image ls/rm</c>, and an ingest killed (SIGKILL) or interrupted (SIGINT)
/// half-way, after which the pool checks clean with no trace of it.
/// </summary>
[NonParallelizable]
public sealed class BackupCliTests
{
    private string _dir = null!;
    private string _pool = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"dvdo-backup-cli-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
        _pool = Path.Combine(_dir, "p.pool");
        DvdoProcess.Must("format", Dvdo("format", _pool, "--physical-size", "256M", "--logical-size", "4G", "--slab-size", "16M"));
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Dvdo(params string[] args) => DvdoProcess.Exec(DvdoProcess.Executable, args);

    private static (int Code, string Out, string Err) Shell(string script) => DvdoProcess.Exec("sh", "-c", script);

    private string WriteFile(string name, byte[] data)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, data);
        return path;
    }

    [Test]
    [CancelAfter(120_000)]
    public void FilesAndStandardInputRoundTripThroughTheCommands()
    {
        var a = WriteFile("a.bin", BackupStreams.Random(1_500_001, 1));
        var b = WriteFile("b.bin", BackupStreams.Compressible(700_000, 2));
        var both = File.ReadAllBytes(a).Concat(File.ReadAllBytes(b)).ToArray();

        var files = DvdoProcess.Must("ingest files", Dvdo("ingest", _pool, "--name", "files", a, b));
        Assert.That(files, Does.Contain("ingested 'files': 2200001 bytes").And.Contain(Convert.ToHexStringLower(SHA256.HashData(both))));
        var json = DvdoProcess.Must("ingest stdin", Shell($"cat '{a}' | '{DvdoProcess.Executable}' ingest '{_pool}' --name piped --align fixed --json -"));
        Assert.That(json, Does.Contain("\"alignment\": \"fixed\"").And.Contain("\"bytes\": 1500001"));
        Assert.That(Dvdo("ingest", _pool, "--name", "files", a).Err, Does.Contain("already exists"));

        var output = Path.Combine(_dir, "out.bin");
        var restore = Dvdo("restore", _pool, "files", "-o", output);
        Assert.That(restore.Code, Is.Zero, restore.Err);
        Assert.That(restore.Err, Does.Contain("SHA-256 verified"));
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(both));
        DvdoProcess.Must("restore to stdout", Shell($"'{DvdoProcess.Executable}' restore '{_pool}' piped > '{output}'"));
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(File.ReadAllBytes(a)));

        var ls = DvdoProcess.Must("image ls", Dvdo("image", "ls", _pool));
        Assert.That(ls, Does.Match(@"files\s+backup\s+2\.1 MiB").And.Match(@"piped\s+backup\s+1\.4 MiB"));
        DvdoProcess.Must("image rm", Dvdo("image", "rm", _pool, "files"));
        DvdoProcess.Must("image rm", Dvdo("image", "rm", _pool, "piped"));
        Assert.That(DvdoProcess.Must("stats", Dvdo("stats", _pool, "--json")), Does.Contain("\"dataBlocksUsed\": 0"));
        Assert.That(DvdoProcess.Must("check", Dvdo("check", _pool)), Does.Contain("consistent"));
    }

    [Test]
    [CancelAfter(120_000)]
    public void AnIngestKilledOrInterruptedHalfWayLeavesNoTrace([Values("KILL", "INT")] string signal)
    {
        var first = WriteFile("first.bin", BackupStreams.Random(300_000, 3));
        DvdoProcess.Must("ingest", Dvdo("ingest", _pool, "--name", "first", first));
        var usedBefore = DvdoProcess.Must("stats", Dvdo("stats", _pool, "--json"));

        // An endless input: the ingest is stopped while it streams.
        AllocatedAtStart = Allocated(_pool);
        using (var ingest = DvdoProcess.Start("ingest", _pool, "--name", "endless", "/dev/urandom"))
        {
            // Wait until the pool file has grown by some megabytes (data is being written).
            SpinWait.SpinUntil(() => ingest.Process.HasExited || Allocated(_pool) >= AllocatedAtStart + (8 << 20), DvdoProcess.Deadline);
            Assert.That(ingest.Process.HasExited, Is.False, ingest.Stderr);
            DvdoProcess.Must("kill", DvdoProcess.Exec("kill", "-" + signal, ingest.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.That(ingest.WaitForExit(), Is.True);
            if (signal == "INT")
            {
                Assert.That(ingest.Process.ExitCode, Is.EqualTo(130), ingest.Stderr);
                Assert.That(ingest.Stderr, Does.Contain("interrupted; nothing of it was kept"));
            }
        }
        Assert.That(DvdoProcess.Must("check", Dvdo("check", _pool)), Does.Contain("consistent"));
        Assert.That(DvdoProcess.Must("image ls", Dvdo("image", "ls", _pool)), Does.Not.Contain("endless"));
        Assert.That(Field(Dvdo("stats", _pool, "--json").Out, "dataBlocksUsed"), Is.EqualTo(Field(usedBefore, "dataBlocksUsed")), "the killed ingest's blocks must come back");
        var output = Path.Combine(_dir, "out.bin");
        DvdoProcess.Must("restore", Dvdo("restore", _pool, "first", "-o", output));
        Assert.That(File.ReadAllBytes(output), Is.EqualTo(File.ReadAllBytes(first)));
        DvdoProcess.Must("ingest again", Dvdo("ingest", _pool, "--name", "endless", first));
    }

    private long AllocatedAtStart { get; set; }

    private static long Allocated(string path) => DvdoProcess.Exec("du", "-B1", path).Out.Split('\t')[0] is var s && long.TryParse(s, out var n) ? n : 0;

    private static string Field(string json, string name) =>
        System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty(name).ToString();
}
