using DataflowVdo.Perf.Baseline;
using DataflowVdo.Perf.Micro;
using DataflowVdo.Perf.NullMount;

namespace DataflowVdo.Perf;

/// <summary>Entry point: <c>baseline</c> (the macro load generator) or <c>bdn</c> (BenchmarkDotNet).</summary>
internal static class Program
{
    private const string Usage = """
        usage: dotnet run -c Release --project perf/DataflowVdo.Perf -- <mode> [args]
          baseline [options]   the issue-2 baseline over the docs/workloads.md workloads (baseline --help)
          bdn [BDN args]       BenchmarkDotNet micro-benchmarks, e.g. bdn --filter '*'
          chunker              the content-defined chunker alone, GB/s on one core
          restore POOL NAME [N] a backup restored N times in one process (no start-up, JIT or open)
          ingest POOL FILE [N] [cdc|fixed]  FILE ingested N times into a fresh pool, in one process
          nullmount MOUNTPOINT a do-nothing FUSE image file, the FUSE layer's ceiling (perf/fio)
        """;

    public static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        string[] rest = args[1..];
        switch (args[0])
        {
            case "baseline" when rest.Contains("--help") || rest.Contains("-h"):
                Console.WriteLine(BaselineOptions.Usage);
                return 0;
            case "baseline":
                return BaselineCommand.Run(rest);
            case "bdn":
                return MicroBenchmarks.Run(rest);
            case "chunker":
                return ChunkerSpeed.Run();
            case "ingest":
                return IngestSpeed.Run(rest);
            case "restore":
                return RestoreSpeed.Run(rest);
            case "nullmount":
                return NullMountCommand.Run(rest);
            default:
                Console.Error.WriteLine($"Unknown mode '{args[0]}'.");
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }
}
