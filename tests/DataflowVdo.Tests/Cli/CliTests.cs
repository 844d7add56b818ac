using System.Text.Json;
using DataflowVdo.Cli;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Cli;

/// <summary>The dvdo command as a user runs it: exit codes, messages and the stats JSON.</summary>
[NonParallelizable]
public sealed class CliTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"dvdo-cli-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    [Test]
    public void FormatStatsAndCheckAPool()
    {
        var pool = Path.Combine(_dir, "a.pool");
        var format = Run("format", pool, "--physical-size", "64M", "--logical-size", "1T", "--slab-size", "8M");
        Assert.That(format.Code, Is.Zero, format.Err);
        Assert.That(format.Out, Does.Contain("1.0 TiB"));
        Assert.That(new FileInfo(pool).Length, Is.EqualTo(64L << 20));
        Assert.That(File.GetUnixFileMode(pool), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));

        var stats = Run("stats", pool, "--json");
        Assert.That(stats.Code, Is.Zero, stats.Err);
        using var json = JsonDocument.Parse(stats.Out);
        var root = json.RootElement;
        foreach (var key in new[] { "blockSize", "physicalBlocks", "logicalBlocks", "dataBlocksUsed", "overheadBlocksUsed", "logicalBlocksUsed", "savingPercent" })
            Assert.That(root.TryGetProperty(key, out _), Is.True, key);
        Assert.That(root.GetProperty("blockSize").GetInt32(), Is.EqualTo(4096));
        Assert.That(root.GetProperty("physicalBlocks").GetInt64(), Is.EqualTo(16384));
        Assert.That(root.GetProperty("logicalBlocks").GetInt64(), Is.EqualTo(1L << 28));
        Assert.That(root.GetProperty("dataBlocksUsed").GetInt64(), Is.Zero);

        var table = Run("stats", pool);
        Assert.That(table.Out, Does.Contain("1k-blocks").And.Contain("Space saving%").And.Contain("65536"));

        var check = Run("check", pool);
        Assert.That(check.Code, Is.Zero, check.Err);
        Assert.That(check.Out, Does.Contain("consistent"));
    }

    [Test]
    public void FormatRefusesToOverwriteWithoutForce()
    {
        var pool = Path.Combine(_dir, "b.pool");
        Assert.That(Run("format", pool, "--physical-size", "32M", "--slab-size", "4M").Code, Is.Zero);
        var again = Run("format", pool, "--physical-size", "32M", "--slab-size", "4M");
        Assert.That(again.Code, Is.EqualTo(2));
        Assert.That(again.Err, Does.Contain("--force"));
        Assert.That(Run("format", pool, "--physical-size", "32M", "--slab-size", "4M", "--force").Code, Is.Zero);
    }

    [TestCase("4X", "not a size")]
    [TestCase("1000", "multiple of 4 KiB")]
    [TestCase("1M", "too small")]
    public void BadSizesAreExplained(string size, string message)
    {
        var r = Run("format", Path.Combine(_dir, "c.pool"), "--physical-size", size);
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain(message));
    }

    [Test]
    public void MissingAndDamagedPoolsAreReportedWithDistinctExitCodes()
    {
        var missing = Run("stats", Path.Combine(_dir, "nope.pool"));
        Assert.That(missing.Code, Is.EqualTo(1));
        Assert.That(missing.Err, Does.Contain("does not exist"));

        var pool = Path.Combine(_dir, "d.pool");
        Assert.That(Run("format", pool, "--physical-size", "32M", "--slab-size", "4M").Code, Is.Zero);
        using (var f = new FileStream(pool, FileMode.Open))
        {
            f.Position = 64;
            f.WriteByte(0xFF);
        }
        var damaged = Run("check", pool);
        Assert.That(damaged.Code, Is.EqualTo(3));
        Assert.That(damaged.Err, Does.Contain("geometry"));
    }

    [Test]
    public void BadConfigurationIsAUsageError()
    {
        var r = Run("format", Path.Combine(_dir, "e.pool"), "--physical-size", "32M", "--set", "Pipeline:PackerBins=0");
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("Pipeline:PackerBins"));
    }

    [Test]
    public void DemoWritesReadsBackAndReportsSavings()
    {
        var r = Run("demo", "--pool", Path.Combine(_dir, "demo.pool"), "--blocks", "3000");
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Out, Does.Contain("verified: all 3000 blocks"));
    }

    [Test]
    public void BenchRunsEachSchemeWithEveryOptionItWasGiven()
    {
        // Every settable number and switch of every section, changed from its default: the copy
        // each scheme runs with must carry all of them (a hand-written copy once dropped two).
        var options = new DataflowVdo.Config.VdoOptions();
        var changed = new List<string>();
        foreach (var section in new object[] { options.Volume, options.Pipeline, options.Index, options.Fuse })
        {
            foreach (var p in section.GetType().GetProperties().Where(p => p.CanWrite))
            {
                if (p.PropertyType == typeof(int))
                    p.SetValue(section, (int)p.GetValue(section)! + 3);
                else if (p.PropertyType == typeof(bool))
                    p.SetValue(section, !(bool)p.GetValue(section)!);
                else
                    continue;
                changed.Add($"{section.GetType().Name}.{p.Name}");
            }
        }
        Assert.That(changed, Does.Contain("PipelineOptions.CompressOnSubmit").And.Contain("PipelineOptions.CompressionProbeAfter"));
        var copy = DataflowVdo.Cli.Commands.BenchCommand.Clone(options);
        foreach (var name in changed)
        {
            var (sectionName, property) = (name.Split('.')[0], name.Split('.')[1]);
            object Section(DataflowVdo.Config.VdoOptions o) => sectionName switch
            {
                "VolumeOptions" => o.Volume,
                "PipelineOptions" => o.Pipeline,
                "IndexOptions" => o.Index,
                _ => o.Fuse,
            };
            var prop = Section(options).GetType().GetProperty(property)!;
            Assert.That(prop.GetValue(Section(copy)), Is.EqualTo(prop.GetValue(Section(options))), name);
        }
    }

    [Test]
    public void BenchPrintsOneJsonObjectWithTheDocumentedNames()
    {
        var r = Run("bench", "--workload", "mixed", "--blocks", "3000", "--working-set", "3000", "--seconds", "2", "--queue-depth", "2", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        using var json = JsonDocument.Parse(r.Out);
        var root = json.RootElement;
        foreach (var key in new[] { "workload", "device", "cores", "computeCeilingMBps", "results" })
            Assert.That(root.TryGetProperty(key, out _), Is.True, key);
        var first = root.GetProperty("results")[0];
        foreach (var key in new[] { "scheme", "MBps", "iops", "p50us", "p99us", "p999us", "cpuSecPerGB", "handoffsPerWrite", "allocBytesPerWrite" })
            Assert.That(first.TryGetProperty(key, out _), Is.True, key);
        Assert.That(first.GetProperty("iops").GetDouble(), Is.GreaterThan(0));
        Assert.That(root.GetProperty("workload").GetString(), Is.EqualTo("mixed"));
    }

    [Test]
    public void BenchBothRunsTheTwoConcurrentSchemesSideBySideWithTheirHandoffAndLockFigures()
    {
        var r = Run("bench", "--workload", "mixed", "--scheme", "both", "--blocks", "3000", "--working-set", "3000", "--seconds", "1", "--queue-depth", "4", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        using var json = JsonDocument.Parse(r.Out);
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.That(results.Select(x => x.GetProperty("scheme").GetString()), Is.EqualTo(new[] { "MessagePassing", "StructureLocking" }));
        Assert.Multiple(() =>
        {
            // Message passing hands every write between blocks; the dual takes zone locks instead.
            Assert.That(results[0].GetProperty("handoffsPerWrite").GetDouble(), Is.GreaterThan(3));
            Assert.That(results[0].GetProperty("locksPerWrite").GetDouble(), Is.Zero);
            Assert.That(results[1].GetProperty("locksPerWrite").GetDouble(), Is.GreaterThan(3));
            Assert.That(results[1].GetProperty("handoffsPerWrite").GetDouble(), Is.LessThan(results[0].GetProperty("handoffsPerWrite").GetDouble()));
            Assert.That(results.Select(x => x.GetProperty("iops").GetDouble()), Is.All.GreaterThan(0));
            // The side-by-side ratio of the same run, per figure.
            var ratio = json.RootElement.GetProperty("ratios").EnumerateArray().Single();
            Assert.That((ratio.GetProperty("of").GetString(), ratio.GetProperty("to").GetString()), Is.EqualTo(("StructureLocking", "MessagePassing")));
            Assert.That(ratio.GetProperty("MBps").GetDouble(), Is.EqualTo(results[1].GetProperty("MBps").GetDouble() / results[0].GetProperty("MBps").GetDouble()).Within(1e-9));
            Assert.That(ratio.GetProperty("p99us").GetDouble(), Is.EqualTo(results[1].GetProperty("p99us").GetDouble() / results[0].GetProperty("p99us").GetDouble()).Within(1e-9));
        });
    }

    [Test]
    public void BenchAllWithMultiBlockRequestsAddsTheBatchedVariantWhichTakesFewerLocks()
    {
        var r = Run("bench", "--workload", "unique", "--scheme", "all", "--request-blocks", "16", "--blocks", "4000", "--working-set", "4000", "--seconds", "1", "--queue-depth", "2", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        using var json = JsonDocument.Parse(r.Out);
        Assert.That(json.RootElement.GetProperty("requestBlocks").GetInt32(), Is.EqualTo(16));
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToDictionary(x => x.GetProperty("scheme").GetString()!);
        Assert.That(results.Keys, Is.EqualTo(new[] { "Inline", "MessagePassing", "StructureLocking", "Batched" }));
        var alone = results["StructureLocking"].GetProperty("locksPerWrite").GetDouble();
        var batched = results["Batched"].GetProperty("locksPerWrite").GetDouble();
        Assert.That(batched, Is.GreaterThan(0).And.LessThan(alone / 2), "one lock per zone and batch of 16 instead of per block");
    }

    [TestCase("0")]
    [TestCase("257")]
    public void BenchRejectsABadRequestSize(string blocks)
    {
        var r = Run("bench", "--request-blocks", blocks);
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("--request-blocks"));
    }

    [Test]
    public void BenchRejectsAnUnknownSchemeNamingTheChoices()
    {
        var r = Run("bench", "--scheme", "Telepathy");
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("Inline"));
    }

    [TestCase("4G", 1L << 20)]
    [TestCase("1.5G", 3L << 17)]
    [TestCase("512M", 1L << 17)]
    [TestCase("1T", 1L << 28)]
    [TestCase("8192", 2L)]
    public void SizesTakeBinarySuffixes(string text, long blocks) =>
        Assert.That(SizeParser.ParseBlocks(text, "size"), Is.EqualTo(blocks));
}
