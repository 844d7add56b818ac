using System.Reflection;
using DataflowVdo.Config;
using Microsoft.Extensions.Configuration;

namespace DataflowVdo.Tests.Config;

/// <summary>Every knob is validated with a message that names its key; sources combine in the documented order.</summary>
public sealed class ConfigurationTests
{
    [Test]
    public void DefaultsAreValid() => Assert.That(new VdoOptions().Validate(), Is.Empty);

    [TestCase("Volume:BlockMapCacheMb", "0")]
    [TestCase("Volume:BlockMapCacheMb", "100000")]
    [TestCase("Pipeline:RequestPoolSize", "0")]
    [TestCase("Pipeline:PackerBins", "0")]
    [TestCase("Pipeline:PackerBins", "5000")]
    [TestCase("Index:MemoryMb", "0")]
    [TestCase("Index:Chapters", "1")]
    public void OutOfRangeValuesNameTheirKey(string key, string value)
    {
        var e = Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: [$"{key}={value}"], environment: false));
        Assert.That(e!.Message, Does.Contain(key).And.Contain("between"));
    }

    [TestCase("Volume:WritePolicy", "Sometimes")]
    [TestCase("Pipeline:Scheme", "Telepathy")]
    [TestCase("Pipeline:Dedupe", "maybe")]
    [TestCase("Index:MemoryMb", "lots")]
    public void MalformedValuesNameTheirKey(string key, string value)
    {
        var e = Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: [$"{key}={value}"], environment: false));
        Assert.That(e!.Message, Does.Contain(key.Split(':')[1]));
    }

    [Test]
    public void EveryNumericRuleRejectsBothEnds()
    {
        foreach (var rule in OptionRules.All)
        {
            foreach (var bad in new[] { rule.Min - 1, rule.Max + 1 })
            {
                var e = Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: [$"{rule.Key}={bad}"], environment: false), rule.Key);
                Assert.That(e!.Message, Does.Contain(rule.Key));
            }
        }
    }

    [Test]
    public void UnknownKeysAndSectionsAreErrors()
    {
        Assert.That(Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: ["Pipeline:Dedup=false"], environment: false))!.Message, Does.Contain("Dedup"));
        Assert.That(Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: ["Pipe:Dedupe=false"], environment: false))!.Message, Does.Contain("Pipe"));
        Assert.That(Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: ["Dedupe=false"], environment: false))!.Message, Does.Contain("Section:Key=Value"));
    }

    [Test]
    public void SetOverridesTheFileWhichOverridesDefaults()
    {
        var file = Path.Combine(Path.GetTempPath(), $"dvdo-config-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """
            {
              // comments are allowed
              "Pipeline": { "Dedupe": false, "PackerBins": 32 },
              "Index": { "Chapters": 8 }
            }
            """);
        try
        {
            var o = VdoConfiguration.Load(file, ["Pipeline:PackerBins=48"], environment: false);
            Assert.Multiple(() =>
            {
                Assert.That(o.Pipeline.Dedupe, Is.False);
                Assert.That(o.Pipeline.PackerBins, Is.EqualTo(48));
                Assert.That(o.Index.Chapters, Is.EqualTo(8));
                Assert.That(o.Volume.WritePolicy, Is.EqualTo(WritePolicy.Async));
            });
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void AMissingOrBrokenFileIsNamed()
    {
        Assert.That(Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load("/nonexistent/dvdo.json"))!.Message, Does.Contain("/nonexistent/dvdo.json"));
        var file = Path.Combine(Path.GetTempPath(), $"dvdo-config-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, "{ \"Pipeline\": ");
        try
        {
            Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(file, environment: false));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void EnvironmentVariablesWithThePrefixApply()
    {
        Environment.SetEnvironmentVariable("DVDO_Volume__WritePolicy", "Sync");
        try
        {
            Assert.That(VdoConfiguration.Load().Volume.WritePolicy, Is.EqualTo(WritePolicy.Sync));
            Assert.That(VdoConfiguration.Load(sets: ["Volume:WritePolicy=Async"]).Volume.WritePolicy, Is.EqualTo(WritePolicy.Async));
        }
        finally
        {
            Environment.SetEnvironmentVariable("DVDO_Volume__WritePolicy", null);
        }
    }

    [Test]
    public void TheShippedDefaultFileMatchesTheBuiltInDefaults()
    {
        var shipped = Path.Combine(TestContext.CurrentContext.TestDirectory, "dvdo.json");
        Assume.That(File.Exists(shipped), "dvdo.json is copied next to the binaries");
        var o = VdoConfiguration.Load(shipped, environment: false);
        var d = new VdoOptions();
        Assert.Multiple(() =>
        {
            Assert.That(o.Volume.WritePolicy, Is.EqualTo(d.Volume.WritePolicy));
            Assert.That(o.Volume.BlockMapCacheMb, Is.EqualTo(d.Volume.BlockMapCacheMb));
            Assert.That(o.Pipeline.PackerBins, Is.EqualTo(d.Pipeline.PackerBins));
            Assert.That(o.Pipeline.RequestPoolSize, Is.EqualTo(d.Pipeline.RequestPoolSize));
            Assert.That(o.Index.MemoryMb, Is.EqualTo(d.Index.MemoryMb));
            Assert.That(o.Index.Chapters, Is.EqualTo(d.Index.Chapters));
        });
    }

    private static readonly string[] Zones = ["Logical", "Physical", "HashZone", "Packer", "Journal"];
    private static readonly string[] Pools = ["Hash", "Verify", "Compress", "DataWrite", "Read"];

    /// <summary>Every bad value of every zone-count and step knob, with the key its error must name.</summary>
    private static IEnumerable<TestCaseData> BadPipelineKnobs()
    {
        TestCaseData Case(string key, object value) => new TestCaseData(key, value.ToString()).SetArgDisplayNames(key, value.ToString()!);
        foreach (var zones in new[] { "LogicalZones", "PhysicalZones", "HashZones" })
        {
            yield return Case($"Pipeline:{zones}", 0);
            yield return Case($"Pipeline:{zones}", 17);
        }
        yield return Case("Pipeline:StepsPerRequeue", 0);
        yield return Case("Pipeline:StepsPerRequeue", 1025);
        foreach (var zone in Zones)
        {
            yield return Case($"Pipeline:Steps:{zone}:Parallelism", 2);
            yield return Case($"Pipeline:Steps:{zone}:Parallelism", 0);
            yield return Case($"Pipeline:Steps:{zone}:BoundedCapacity", 100);
        }
        foreach (var pool in Pools)
        {
            yield return Case($"Pipeline:Steps:{pool}:Parallelism", -1);
            yield return Case($"Pipeline:Steps:{pool}:Parallelism", 257);
            yield return Case($"Pipeline:Steps:{pool}:BoundedCapacity", 5);
            yield return Case($"Pipeline:Steps:{pool}:BoundedCapacity", (1 << 20) + 1);
        }
        foreach (var step in Zones.Concat(Pools))
        {
            yield return Case($"Pipeline:Steps:{step}:BoundedCapacity", -1);
            yield return Case($"Pipeline:Steps:{step}:BatchSize", -1);
            yield return Case($"Pipeline:Steps:{step}:BatchSize", (1 << 20) + 1);
        }
    }

    [TestCaseSource(nameof(BadPipelineKnobs))]
    public void BadPipelineKnobsNameTheirKey(string key, string value)
    {
        var e = Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: [$"{key}={value}"], environment: false));
        Assert.That(e!.Message, Does.Contain($"{key} = {value}"));
    }

    [Test]
    public void EveryBadKnobIsReportedAtOnce()
    {
        var e = Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(
            sets: ["Pipeline:Steps:Logical:Parallelism=4", "Pipeline:Steps:Compress:BoundedCapacity=3", "Pipeline:HashZones=17"], environment: false));
        Assert.That(e!.Message, Does.Contain("Pipeline:Steps:Logical:Parallelism").And.Contain("Pipeline:Steps:Compress:BoundedCapacity").And.Contain("Pipeline:HashZones"));
    }

    [TestCase("Pipeline:Steps:Compress:Parallelism", "lots")]
    [TestCase("Pipeline:Steps:Journal:BatchSize", "1.5")]
    public void MalformedStepValuesNameTheirKey(string key, string value)
    {
        var e = Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: [$"{key}={value}"], environment: false));
        Assert.That(e!.Message, Does.Contain(key.Split(':')[^1]));
    }

    [Test]
    public void AnUnknownStepOrStepKeyIsAnError()
    {
        Assert.That(Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: ["Pipeline:Steps:Dedupe:Parallelism=2"], environment: false))!.Message, Does.Contain("Dedupe"));
        Assert.That(Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: ["Pipeline:Steps:Hash:Threads=2"], environment: false))!.Message, Does.Contain("Threads"));
    }

    [Test]
    public void GoodPipelineKnobsBindFromSet()
    {
        var o = VdoConfiguration.Load(sets:
        [
            "Pipeline:Scheme=MessagePassing", "Pipeline:LogicalZones=1", "Pipeline:PhysicalZones=1", "Pipeline:HashZones=1",
            "Pipeline:Steps:Compress:Parallelism=3", "Pipeline:Steps:Hash:Parallelism=256", "Pipeline:Steps:Verify:BoundedCapacity=16",
            "Pipeline:Steps:DataWrite:BoundedCapacity=1048576", "Pipeline:Steps:Journal:BatchSize=64", "pipeline:steps:packer:batchsize=1048576",
        ], environment: false);
        var s = o.Pipeline.Steps;
        Assert.Multiple(() =>
        {
            Assert.That(o.Pipeline.Scheme, Is.EqualTo(SchemeKind.MessagePassing));
            Assert.That((o.Pipeline.LogicalZones, o.Pipeline.PhysicalZones, o.Pipeline.HashZones), Is.EqualTo((1, 1, 1)));
            Assert.That(s.Compress.Parallelism, Is.EqualTo(3));
            Assert.That(s.Hash.Parallelism, Is.EqualTo(256));
            Assert.That(s.Verify.BoundedCapacity, Is.EqualTo(16));
            Assert.That(s.DataWrite.BoundedCapacity, Is.EqualTo(1 << 20));
            Assert.That(s.Journal.BatchSize, Is.EqualTo(64));
            Assert.That(s.Packer.BatchSize, Is.EqualTo(1 << 20), "keys are case-insensitive");
            Assert.That(s.Logical.Parallelism, Is.EqualTo(1), "untouched steps keep their defaults");
            Assert.That(s.DataWrite.Parallelism, Is.Zero, "untouched steps keep their defaults");
        });
    }

    [Test]
    public void GoodPipelineKnobsBindFromJson()
    {
        var file = Path.Combine(Path.GetTempPath(), $"dvdo-config-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """
            {
              "Pipeline": {
                "Scheme": "MessagePassing",
                "LogicalZones": 1, "PhysicalZones": 1, "HashZones": 1,
                "Steps": {
                  "Compress": { "Parallelism": 3, "BoundedCapacity": 256 },
                  "Journal": { "BatchSize": 32 }
                }
              }
            }
            """);
        try
        {
            var o = VdoConfiguration.Load(file, ["Pipeline:Steps:Compress:BoundedCapacity=512"], environment: false);
            Assert.Multiple(() =>
            {
                Assert.That(o.Pipeline.Scheme, Is.EqualTo(SchemeKind.MessagePassing));
                Assert.That(o.Pipeline.Steps.Compress.Parallelism, Is.EqualTo(3));
                Assert.That(o.Pipeline.Steps.Compress.BoundedCapacity, Is.EqualTo(512), "--set overrides the file");
                Assert.That(o.Pipeline.Steps.Journal.BatchSize, Is.EqualTo(32));
                Assert.That(o.Pipeline.Steps.Journal.Parallelism, Is.EqualTo(1));
            });
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void GoodPipelineKnobsBindFromTheEnvironment()
    {
        (string Name, string Value)[] variables =
        [
            ("DVDO_Pipeline__Scheme", "MessagePassing"),
            ("DVDO_Pipeline__Steps__Compress__Parallelism", "3"),
            ("DVDO_Pipeline__Steps__Hash__BoundedCapacity", "128"),
            ("DVDO_Pipeline__Steps__Journal__BatchSize", "16"),
        ];
        foreach (var (name, value) in variables)
            Environment.SetEnvironmentVariable(name, value);
        try
        {
            var o = VdoConfiguration.Load();
            Assert.Multiple(() =>
            {
                Assert.That(o.Pipeline.Scheme, Is.EqualTo(SchemeKind.MessagePassing));
                Assert.That(o.Pipeline.Steps.Compress.Parallelism, Is.EqualTo(3));
                Assert.That(o.Pipeline.Steps.Hash.BoundedCapacity, Is.EqualTo(128));
                Assert.That(o.Pipeline.Steps.Journal.BatchSize, Is.EqualTo(16));
            });
            Assert.That(VdoConfiguration.Load(sets: ["Pipeline:Steps:Compress:Parallelism=2"]).Pipeline.Steps.Compress.Parallelism, Is.EqualTo(2), "--set overrides the environment");
            Environment.SetEnvironmentVariable("DVDO_Pipeline__Steps__Logical__Parallelism", "2");
            Assert.That(Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load())!.Message, Does.Contain("Pipeline:Steps:Logical:Parallelism"));
        }
        finally
        {
            foreach (var (name, _) in variables)
                Environment.SetEnvironmentVariable(name, null);
            Environment.SetEnvironmentVariable("DVDO_Pipeline__Steps__Logical__Parallelism", null);
        }
    }

    [TestCase("MessagePassing", SchemeKind.MessagePassing)]
    [TestCase("messagepassing", SchemeKind.MessagePassing)]
    [TestCase("Inline", SchemeKind.Inline)]
    public void SchemesBindByName(string value, SchemeKind expected) =>
        Assert.That(VdoConfiguration.Load(sets: [$"Pipeline:Scheme={value}"], environment: false).Pipeline.Scheme, Is.EqualTo(expected));

    /// <summary>Every leaf key of the options (<c>Section:Key</c>, nested with colons) with its value as configuration text.</summary>
    private static SortedDictionary<string, string> Leaves(object options)
    {
        var leaves = new SortedDictionary<string, string>(StringComparer.Ordinal);
        void Walk(object o, string prefix)
        {
            foreach (var p in o.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
            {
                var value = p.GetValue(o)!;
                var key = prefix + p.Name;
                if (value is IDictionary<string, string> map) // a section of named entries (Pipeline:Executors)
                {
                    foreach (var (k, v) in map)
                        leaves[$"{key}:{k}"] = v;
                }
                else if (p.PropertyType.IsClass && p.PropertyType != typeof(string))
                    Walk(value, key + ":");
                else
                    leaves[key] = value is bool b ? (b ? "true" : "false") : value.ToString()!;
            }
        }
        Walk(options, "");
        return leaves;
    }

    [Test]
    public void TheShippedDefaultFileListsEveryKeyWithItsBuiltInDefault()
    {
        var shipped = Path.Combine(TestContext.CurrentContext.TestDirectory, "dvdo.json");
        Assume.That(File.Exists(shipped), "dvdo.json is copied next to the binaries");
        var fileKeys = new ConfigurationBuilder().AddJsonFile(shipped).Build().AsEnumerable()
            .Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.Ordinal);
        var defaults = Leaves(new VdoOptions());
        Assert.That(fileKeys.Keys, Is.EquivalentTo(defaults.Keys), "dvdo.json lists every key, spelled as the options spell it");
        Assert.That(Leaves(VdoConfiguration.Load(shipped, environment: false)), Is.EqualTo(defaults), "and gives each its built-in default");
    }

    [Test]
    public void TheConfigurationPageDocumentsEveryKey()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DataflowVdo.sln")))
            dir = dir.Parent;
        Assume.That(dir, Is.Not.Null, "the tests run inside the source tree");
        var page = File.ReadAllText(Path.Combine(dir!.FullName, "docs", "configuration.md"));
        foreach (var key in Leaves(new VdoOptions()).Keys)
        {
            // Step knobs are documented as one row per step and one row per knob.
            var parts = key.Split(':');
            if (parts is ["Pipeline", "Steps", var step, var knob])
                Assert.That(page, Does.Contain($"`Pipeline:Steps:{step}`").And.Contain($"`{knob}`"), key);
            else
                Assert.That(page, Does.Contain($"`{key}`"), key);
        }
    }
}
