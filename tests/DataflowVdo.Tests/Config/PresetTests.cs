using DataflowVdo.Config;

namespace DataflowVdo.Tests.Config;

/// <summary>
/// <c>Pipeline:Preset</c>: a named set of pipeline keys, applied over the configuration file (the
/// shipped one lists every key at its default) and under the environment and <c>--set</c>; an
/// unknown name is an error listing the presets.
/// </summary>
public sealed class PresetTests
{
    [Test]
    public void APresetSetsItsKeys()
    {
        var o = VdoConfiguration.Load(sets: ["Pipeline:Scheme=MessagePassing", "Pipeline:Preset=grouped"], environment: false);
        Assert.Multiple(() =>
        {
            Assert.That(o.Pipeline.Preset, Is.EqualTo("grouped"));
            foreach (var kind in PipelineOptions.ExecutorKinds)
                Assert.That(o.Pipeline.ExecutorOf(kind), Is.EqualTo("zones"), kind);
            Assert.That(o.Pipeline.MessageBatch, Is.EqualTo(8));
            Assert.That(o.Pipeline.HashOnSubmit, Is.True);
        });
    }

    [Test]
    [NonParallelizable] // sets an environment variable
    public void TheEnvironmentAndSetOverrideThePreset()
    {
        Environment.SetEnvironmentVariable("DVDO_Pipeline__MessageBatch", "3");
        try
        {
            var o = VdoConfiguration.Load(sets: ["Pipeline:Preset=grouped", "Pipeline:Executors:Journal=tail"]);
            Assert.Multiple(() =>
            {
                Assert.That(o.Pipeline.MessageBatch, Is.EqualTo(3), "from the environment");
                Assert.That(o.Pipeline.ExecutorOf("Journal"), Is.EqualTo("tail"), "from --set");
                Assert.That(o.Pipeline.ExecutorOf("Logical"), Is.EqualTo("zones"), "from the preset");
            });
        }
        finally
        {
            Environment.SetEnvironmentVariable("DVDO_Pipeline__MessageBatch", null);
        }
    }

    [Test]
    public void APresetGivenInAFileAppliesOverThatFilesKeys()
    {
        // As in the shipped dvdo.json, which lists every key at its default.
        var file = Path.Combine(Path.GetTempPath(), $"dvdo-preset-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """{ "Pipeline": { "Scheme": "MessagePassing", "Preset": "grouped", "MessageBatch": 1, "HashOnSubmit": false } }""");
        try
        {
            var o = VdoConfiguration.Load(jsonFile: file, environment: false);
            Assert.That(o.Pipeline.ExecutorOf("Logical"), Is.EqualTo("zones"));
            Assert.That(o.Pipeline.MessageBatch, Is.EqualTo(8));
            Assert.That(o.Pipeline.HashOnSubmit, Is.True);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void AnUnknownPresetIsAnErrorListingThePresets()
    {
        var e = Assert.Throws<ConfigurationException>(() => VdoConfiguration.Load(sets: ["Pipeline:Preset=fastest"], environment: false));
        Assert.That(e!.Message, Does.Contain("Pipeline:Preset = 'fastest' is not a preset").And.Contain("grouped").And.Contain("front-back"));
    }

    [Test]
    public void ApplyingAPresetInCodeSetsTheSameKeysAsConfiguration()
    {
        foreach (var preset in PipelinePreset.All)
        {
            var loaded = VdoConfiguration.Load(sets: [$"Pipeline:Preset={preset.Name}"], environment: false);
            var built = new VdoOptions();
            preset.ApplyTo(built);
            Assert.Multiple(() =>
            {
                Assert.That(built.Pipeline.Preset, Is.EqualTo(preset.Name));
                Assert.That(built.Pipeline.MessageBatch, Is.EqualTo(loaded.Pipeline.MessageBatch), preset.Name);
                Assert.That(built.Pipeline.HashOnSubmit, Is.EqualTo(loaded.Pipeline.HashOnSubmit), preset.Name);
                foreach (var kind in PipelineOptions.ExecutorKinds)
                    Assert.That(built.Pipeline.ExecutorOf(kind), Is.EqualTo(loaded.Pipeline.ExecutorOf(kind)), $"{preset.Name} {kind}");
            });
        }
    }
}
