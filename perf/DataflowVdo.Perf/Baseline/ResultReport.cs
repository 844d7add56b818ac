using System.Globalization;
using System.Text.Json;

namespace DataflowVdo.Perf.Baseline;

/// <summary>Prints baseline results: a readable table, and one JSON object per workload.</summary>
internal static class ResultReport
{
    private const double Mebi = 1024 * 1024;

    public static void WriteJson(TextWriter output, BaselineResult result) =>
        output.WriteLine(JsonSerializer.Serialize(result, PerfJsonContext.Default.BaselineResult));

    public static void WriteTables(TextWriter output, IReadOnlyList<BaselineResult> results)
    {
        output.WriteLine();
        output.WriteLine("Throughput (MB = 10^6 bytes; eff = MB/s over the compute ceiling of the same blocks; latency per 4 KiB op)");
        var throughput = new TextTable(2, "workload", "phase", "ops", "s", "MB/s", "IOPS", "ceil MB/s", "eff %", "p50 us", "p99 us", "p99.9 us", "B/op", "B/op all", "gen0", "gen2");
        foreach (var result in results)
        {
            foreach (var p in result.Phases)
            {
                throughput.Add(
                    result.Workload,
                    p.Phase + (p.Completed ? "" : "*"),
                    N(p.Operations),
                    F(p.Seconds, 1),
                    F(p.MegabytesPerSecond, 1),
                    N(p.Iops),
                    N(result.CeilingMegabytesPerSecond),
                    p.Efficiency > 0 ? F(100 * p.Efficiency, 1) : "-",
                    F(p.LatencyMicroseconds.P50, 1),
                    F(p.LatencyMicroseconds.P99, 1),
                    F(p.LatencyMicroseconds.P999, 1),
                    F(p.AllocatedBytesPerOp, 0),
                    F(p.ProcessAllocatedBytesPerOp, 0),
                    N(p.Gen0Collections),
                    N(p.Gen2Collections));
            }
        }

        throughput.WriteTo(output);
        if (results.Any(r => r.Phases.Any(p => !p.Completed)))
        {
            output.WriteLine("* stopped by --seconds before the last block");
        }

        output.WriteLine();
        output.WriteLine("Space (after the last write phase; packer efficiency = fragment bytes / (packed blocks x 4096); lost = points of saving perfect packing would add; corpus rep = corpus blocks that repeat after the corpus wrapped)");
        var space = new TextTable(1, "workload", "blocks lz4", "corpus rep", "saving %", "data blocks", "logical used", "fragments", "fragment MiB", "packed MiB", "packer eff %", "lost pts", "verified");
        foreach (var result in results)
        {
            var s = result.Space;
            if (s is null)
            {
                continue;
            }

            space.Add(
                result.Workload,
                F(result.BlocksLz4Ratio, 3),
                N(result.RepeatedCorpusBlocks),
                F(s.SavingPercent, 0),
                N(s.DataBlocksUsed),
                N(s.LogicalBlocksUsed),
                N(s.CompressedFragments),
                F(s.CompressedFragmentBytes / Mebi, 1),
                F(s.PackedBytes / Mebi, 1),
                F(100 * s.PackerEfficiency, 1),
                F(s.LostSavingPoints, 2),
                $"{result.Verified - result.Mismatches}/{result.Verified}");
        }

        space.WriteTo(output);
    }

    private static string N(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string F(double value, int decimals) => value.ToString("F" + decimals, CultureInfo.InvariantCulture);
}
