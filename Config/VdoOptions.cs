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
        if (Pipeline.CompressionProbeAfter is < 0 or > 1 << 20)
            errors.Add($"Pipeline:CompressionProbeAfter = {Pipeline.CompressionProbeAfter} is out of range (0..{1 << 20}; 0 = always compress)");
        if (!Enum.IsDefined(Pipeline.Scheme))
            errors.Add($"Pipeline:Scheme = {Pipeline.Scheme} is not one of {string.Join(", ", Enum.GetNames<SchemeKind>())}");
        if (!string.IsNullOrWhiteSpace(Pipeline.Preset) && !PipelinePreset.All.Any(p => string.Equals(p.Name, Pipeline.Preset.Trim(), StringComparison.OrdinalIgnoreCase)))
            errors.Add($"Pipeline:Preset = '{Pipeline.Preset}' is not a preset: must be one of {string.Join(", ", PipelinePreset.All.Select(p => p.Name))}");
        foreach (var (kind, executor) in Pipeline.Executors)
        {
            if (!PipelineOptions.ExecutorKinds.Contains(kind, StringComparer.OrdinalIgnoreCase))
                errors.Add($"Pipeline:Executors:{kind} is not a zone kind that owns structures: must be one of {string.Join(", ", PipelineOptions.ExecutorKinds)} (the stateless steps run on the request's thread)");
            else if (string.IsNullOrWhiteSpace(executor))
                errors.Add($"Pipeline:Executors:{kind} is empty: name the executor (zones of the kinds given one name share a lock)");
        }
        foreach (var (name, step, isZone) in Pipeline.Steps.All())
        {
            var key = $"Pipeline:Steps:{name}";
            if (isZone && step.Parallelism != 1)
                errors.Add($"{key}:Parallelism = {step.Parallelism} is not allowed: a zone owns its structures and runs one message at a time (must be 1; add zones instead)");
            else if (step.Parallelism is < 0 or > 256)
                errors.Add($"{key}:Parallelism = {step.Parallelism} is out of range: must be between 0 (one per core) and 256");
            if (isZone && step.BoundedCapacity != 0)
                errors.Add($"{key}:BoundedCapacity = {step.BoundedCapacity} is not allowed: zones hand requests to each other in cycles (logical → journal → logical), so a full zone could deadlock the graph; must be 0 (bound the worker pools or Pipeline:RequestPoolSize instead)");
            else if (step.BoundedCapacity < 0 || step.BoundedCapacity > 1 << 20)
                errors.Add($"{key}:BoundedCapacity = {step.BoundedCapacity} is out of range: must be between 0 (unbounded) and {1 << 20}");
            else if (step.BoundedCapacity is > 0 and < 16)
                errors.Add($"{key}:BoundedCapacity = {step.BoundedCapacity} is too small: must be 0 (unbounded) or at least 16, or control messages could not get through");
            if (step.BatchSize < 0 || step.BatchSize > 1 << 20)
                errors.Add($"{key}:BatchSize = {step.BatchSize} is out of range: must be between 0 (unlimited) and {1 << 20}");
        }
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
