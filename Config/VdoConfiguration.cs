using Microsoft.Extensions.Configuration;

namespace DataflowVdo.Config;

/// <summary>
/// Builds <see cref="VdoOptions"/> from, in increasing precedence: defaults, a JSON file
/// (<c>dvdo.json</c> in the working directory, or the one named), <c>DVDO_</c> environment
/// variables (<c>DVDO_Pipeline__Dedupe=false</c>), and <c>--set Section:Key=Value</c> pairs.
/// Unknown keys and malformed values are errors that name the key.
/// </summary>
public static class VdoConfiguration
{
    /// <summary>Default file name looked up in the working directory.</summary>
    public const string DefaultFile = "dvdo.json";

    /// <summary>Loads and validates the options.</summary>
    public static VdoOptions Load(string? jsonFile = null, IEnumerable<string>? sets = null, bool environment = true)
    {
        var parsed = ParseSets(sets ?? []);
        var root = Build(jsonFile, parsed, environment, preset: null);
        // Pipeline:Preset, wherever it was given, puts its keys over the file's.
        if (root["Pipeline:Preset"] is { } name && !string.IsNullOrWhiteSpace(name))
            root = Build(jsonFile, parsed, environment, PipelinePreset.Find(name));
        return Bind(root);
    }

    private static IConfigurationRoot Build(string? jsonFile, Dictionary<string, string?> sets, bool environment, PipelinePreset? preset)
    {
        var builder = new ConfigurationBuilder();
        if (jsonFile is not null)
        {
            if (!File.Exists(jsonFile))
                throw new ConfigurationException($"configuration file '{jsonFile}' does not exist");
            builder.AddJsonFile(Path.GetFullPath(jsonFile), optional: false);
        }
        else if (File.Exists(DefaultFile))
        {
            builder.AddJsonFile(Path.GetFullPath(DefaultFile), optional: true);
        }
        // A preset's keys go over the file (the shipped dvdo.json lists every key at its default)
        // and under the environment and --set.
        if (preset is not null)
            builder.AddInMemoryCollection(preset.Settings.Select(kv => KeyValuePair.Create(kv.Key, (string?)kv.Value)));
        if (environment)
            builder.AddEnvironmentVariables("DVDO_");
        builder.AddInMemoryCollection(sets);
        try
        {
            return builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
        {
            throw new ConfigurationException($"cannot read configuration: {e.Message}", e);
        }
    }

    /// <summary>Binds and validates options from a built configuration.</summary>
    public static VdoOptions Bind(IConfiguration configuration)
    {
        var options = new VdoOptions();
        foreach (var section in configuration.GetChildren())
        {
            object target = section.Key.ToUpperInvariant() switch
            {
                "VOLUME" => options.Volume,
                "PIPELINE" => options.Pipeline,
                "INDEX" => options.Index,
                "FUSE" => options.Fuse,
                _ => throw new ConfigurationException($"unknown configuration section '{section.Key}' (known: Volume, Pipeline, Index, Fuse; from the environment, variables look like DVDO_Section__Key, so check DVDO_{section.Key})"),
            };
            try
            {
                section.Bind(target, b => b.ErrorOnUnknownConfiguration = true);
            }
            catch (InvalidOperationException e)
            {
                throw new ConfigurationException($"bad value in section '{section.Key}': {e.Message}", e);
            }
        }
        return options.EnsureValid();
    }

    private static Dictionary<string, string?> ParseSets(IEnumerable<string> sets)
    {
        var pairs = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var set in sets)
        {
            var eq = set.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !set[..eq].Contains(':', StringComparison.Ordinal))
                throw new ConfigurationException($"--set '{set}' must look like Section:Key=Value (e.g. Pipeline:Dedupe=false)");
            pairs[set[..eq].Trim()] = set[(eq + 1)..].Trim();
        }
        return pairs;
    }
}
