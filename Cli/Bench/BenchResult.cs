using System.Text.Json.Serialization;

namespace DataflowVdo.Cli.Bench;

/// <summary>One scheme's figures in a <c>dvdo bench</c> run; the JSON names are a stable interface.</summary>
internal sealed record BenchResult
{
    [JsonPropertyName("scheme")] public required string Scheme { get; init; }
    [JsonPropertyName("operations")] public long Operations { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    [JsonPropertyName("MBps")] public double MegabytesPerSecond { get; init; }
    [JsonPropertyName("iops")] public double Iops { get; init; }
    [JsonPropertyName("p50us")] public double P50Microseconds { get; init; }
    [JsonPropertyName("p99us")] public double P99Microseconds { get; init; }
    [JsonPropertyName("p999us")] public double P999Microseconds { get; init; }
    [JsonPropertyName("cpuSecPerGB")] public double CpuSecondsPerGigabyte { get; init; }
    [JsonPropertyName("handoffsPerWrite")] public double HandoffsPerWrite { get; init; }
    [JsonPropertyName("allocBytesPerWrite")] public double AllocatedBytesPerWrite { get; init; }
    [JsonPropertyName("locksPerWrite")] public double LockAcquisitionsPerWrite { get; init; }
    [JsonPropertyName("contendedPercent")] public double ContendedPercent { get; init; }
    [JsonPropertyName("efficiency")] public double Efficiency { get; init; }
    [JsonPropertyName("savingPercent")] public int SavingPercent { get; init; }
    [JsonPropertyName("blocks")] public IReadOnlyList<BenchBlock> Blocks { get; init; } = [];
    /// <summary>Zone-to-zone transitions in the measured run, by the node ids of <c>dvdo graph --format json</c>.</summary>
    [JsonPropertyName("edges")] public IReadOnlyList<BenchEdge> Edges { get; init; } = [];
}

/// <summary>How many times requests went from one node of the graph to another in a bench run.</summary>
internal sealed record BenchEdge
{
    [JsonPropertyName("from")] public required string From { get; init; }
    [JsonPropertyName("to")] public required string To { get; init; }
    [JsonPropertyName("count")] public long Count { get; init; }
}

/// <summary>One Dataflow block's figures over a bench run (message-passing scheme).</summary>
internal sealed record BenchBlock
{
    [JsonPropertyName("block")] public required string Block { get; init; }
    [JsonPropertyName("messagesPerWrite")] public double MessagesPerWrite { get; init; }
    [JsonPropertyName("busyPercent")] public double BusyPercent { get; init; }
    [JsonPropertyName("meanQueueDepth")] public double MeanQueueDepth { get; init; }
    [JsonPropertyName("parallelism")] public int Parallelism { get; init; }
}

/// <summary>The whole <c>dvdo bench --json</c> object.</summary>
internal sealed record BenchReport
{
    [JsonPropertyName("workload")] public required string Workload { get; init; }
    [JsonPropertyName("device")] public required string Device { get; init; }
    [JsonPropertyName("cores")] public int Cores { get; init; }
    [JsonPropertyName("queueDepth")] public int QueueDepth { get; init; }
    /// <summary>Blocks per request (latency percentiles are per request).</summary>
    [JsonPropertyName("requestBlocks")] public int RequestBlocks { get; init; } = 1;
    [JsonPropertyName("seed")] public long Seed { get; init; }
    [JsonPropertyName("corpus")] public required string Corpus { get; init; }
    [JsonPropertyName("computeCeilingMBps")] public double ComputeCeilingMegabytesPerSecond { get; init; }
    [JsonPropertyName("results")] public required IReadOnlyList<BenchResult> Results { get; init; }
    [JsonPropertyName("ratios")] public IReadOnlyList<BenchRatio> Ratios { get; init; } = [];
}
