using Microsoft.Extensions.Configuration;

namespace DataflowVdo.Config;

/// <summary>
/// A named set of pipeline settings (<c>Pipeline:Preset</c>): executor groupings and batching
/// found by measurement (docs/configuration.md and perf/README.md give the figures). A preset's
/// keys go over the configuration file's (the shipped <c>dvdo.json</c> lists every key at its
/// default) and under the environment and <c>--set</c>, which override it.
/// </summary>
/// <param name="Name">The name <c>Pipeline:Preset</c> takes.</param>
/// <param name="Summary">What it does, in one line.</param>
/// <param name="Settings">Its keys (<c>Section:Key</c>) and values.</param>
public sealed record PipelinePreset(string Name, string Summary, IReadOnlyDictionary<string, string> Settings)
{
    /// <summary>Every preset that ships.</summary>
    public static readonly IReadOnlyList<PipelinePreset> All =
    [
        new("zoned", "VDO's layout: an executor (lock or Dataflow block) per zone, one request per message", new Dictionary<string, string>()),
        new("grouped", "every zone that owns structures on one executor (one lock, or one Dataflow block that runs a request through all of them in one message); MessagePassing also names blocks on submit and batches 8 requests per message",
            new Dictionary<string, string>
            {
                ["Pipeline:Executors:Logical"] = "zones",
                ["Pipeline:Executors:HashZone"] = "zones",
                ["Pipeline:Executors:Physical"] = "zones",
                ["Pipeline:Executors:Packer"] = "zones",
                ["Pipeline:Executors:Journal"] = "zones",
                ["Pipeline:HashOnSubmit"] = "true",
                ["Pipeline:MessageBatch"] = "8",
            }),
        new("front-back", "logical and hash zones on one executor (front), physical zones, packer and journal on another (back)",
            new Dictionary<string, string>
            {
                ["Pipeline:Executors:Logical"] = "front",
                ["Pipeline:Executors:HashZone"] = "front",
                ["Pipeline:Executors:Physical"] = "back",
                ["Pipeline:Executors:Packer"] = "back",
                ["Pipeline:Executors:Journal"] = "back",
            }),
    ];

    /// <summary>The preset called <paramref name="name"/> (any case); a clear error listing the names otherwise.</summary>
    public static PipelinePreset Find(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new ConfigurationException($"Pipeline:Preset = '{name}' is not a preset: must be one of {string.Join(", ", All.Select(p => p.Name))}");

    /// <summary>
    /// Options built in code (tests, benchmarks): sets this preset's keys on <paramref name="options"/>
    /// and records its name; set anything that should differ afterwards.
    /// </summary>
    public void ApplyTo(VdoOptions options)
    {
        var section = new ConfigurationBuilder().AddInMemoryCollection(Settings.Select(kv => KeyValuePair.Create(kv.Key, (string?)kv.Value))).Build().GetSection("Pipeline");
        section.Bind(options.Pipeline, b => b.ErrorOnUnknownConfiguration = true);
        options.Pipeline.Preset = Name;
    }
}
