namespace DataflowVdo.Config;

/// <summary>All options, bound from configuration (<c>dvdo.json</c>, <c>DVDO_</c> variables, <c>--set</c>).</summary>
public sealed class VdoOptions
{
    /// <summary>Section <c>Volume</c>.</summary>
    public VolumeOptions Volume { get; set; } = new();

    /// <summary>Section <c>Pipeline</c>.</summary>
    public PipelineOptions Pipeline { get; set; } = new();

    /// <summary>Section <c>Index</c>.</summary>
    public IndexOptions Index { get; set; } = new();

    /// <summary>Section <c>Fuse</c>.</summary>
    public FuseOptions Fuse { get; set; } = new();

    /// <summary>Every problem with these options, each naming its key; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (var rule in OptionRules.All)
        {
            var value = rule.Read(this);
            if (value < rule.Min || value > rule.Max)
                errors.Add($"{rule.Key} = {value} is out of range: must be between {rule.Min} and {rule.Max} ({rule.Meaning})");
        }
        if (!Enum.IsDefined(Volume.WritePolicy))
            errors.Add($"Volume:WritePolicy = {Volume.WritePolicy} is not one of {string.Join(", ", Enum.GetNames<WritePolicy>())}");
        if (!Enum.IsDefined(Pipeline.Scheme))
            errors.Add($"Pipeline:Scheme = {Pipeline.Scheme} is not one of {string.Join(", ", Enum.GetNames<SchemeKind>())}");
        return errors;
    }

    /// <summary>Throws <see cref="ConfigurationException"/> listing every problem, if any.</summary>
    public VdoOptions EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0)
            throw new ConfigurationException("invalid configuration: " + string.Join("; ", errors));
        return this;
    }
}
