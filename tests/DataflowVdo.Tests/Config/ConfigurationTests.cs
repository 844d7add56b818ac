using DataflowVdo.Config;

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
}
