using System.Text.Json.Serialization;

namespace DataflowVdo.Cli.Bench;

/// <summary>One scheme's figures divided by another's, from the same run (null where the divisor is 0).</summary>
internal sealed record BenchRatio
{
    [JsonPropertyName("of")] public required string Of { get; init; }
    [JsonPropertyName("to")] public required string To { get; init; }
    [JsonPropertyName("MBps")] public double? MegabytesPerSecond { get; init; }
    [JsonPropertyName("iops")] public double? Iops { get; init; }
    [JsonPropertyName("p50us")] public double? P50 { get; init; }
    [JsonPropertyName("p99us")] public double? P99 { get; init; }
    [JsonPropertyName("p999us")] public double? P999 { get; init; }
    [JsonPropertyName("cpuSecPerGB")] public double? CpuPerGigabyte { get; init; }
    [JsonPropertyName("allocBytesPerWrite")] public double? AllocatedBytes { get; init; }

    /// <summary>The comparisons the run allows: the dual against message passing, each concurrent scheme against inline, batched against unbatched.</summary>
    public static IReadOnlyList<BenchRatio> Compare(IReadOnlyList<BenchResult> results)
    {
        var byName = results.ToDictionary(r => r.Scheme);
        var pairs = new (string Of, string To)[]
        {
            ("StructureLocking", "MessagePassing"),
            ("StructureLocking", "Inline"),
            ("MessagePassing", "Inline"),
            ("Batched", "StructureLocking"),
        };
        var list = new List<BenchRatio>();
        foreach (var (of, to) in pairs)
        {
            if (!byName.TryGetValue(of, out var a) || !byName.TryGetValue(to, out var b))
                continue;
            static double? Div(double x, double y) => y > 0 ? x / y : null;
            list.Add(new BenchRatio
            {
                Of = of,
                To = to,
                MegabytesPerSecond = Div(a.MegabytesPerSecond, b.MegabytesPerSecond),
                Iops = Div(a.Iops, b.Iops),
                P50 = Div(a.P50Microseconds, b.P50Microseconds),
                P99 = Div(a.P99Microseconds, b.P99Microseconds),
                P999 = Div(a.P999Microseconds, b.P999Microseconds),
                CpuPerGigabyte = Div(a.CpuSecondsPerGigabyte, b.CpuSecondsPerGigabyte),
                AllocatedBytes = Div(a.AllocatedBytesPerWrite, b.AllocatedBytesPerWrite),
            });
        }
        return list;
    }
}
