using System.Globalization;
using DataflowVdo.Workloads;

namespace DataflowVdo.Perf.Baseline;

/// <summary>Command-line options of <c>baseline</c>; defaults follow docs/workloads.md.</summary>
internal sealed record BaselineOptions
{
    public const string Usage = """
        usage: DataflowVdo.Perf baseline [options]
          --workloads a,b,..  workloads to run (default unique,dup50,compressible,mixed; also dup, zero, read)
          --blocks N          writes per workload, pre-generated (default 393216 = 1.5 x working set)
          --seconds N         time limit per measured phase (default 120)
          --seed N            seed of blocks and addresses (default 42)
          --corpus DIR        corpus folder (default /usr/share/dotnet)
          --working-set N     logical working set in blocks (default 262144 = 1 GiB)
          --window N          duplicate window in blocks (default 65536)
          --sequential        sequential instead of random LBNs
          --json              one JSON object per workload on stdout; the table goes to stderr
          --set Section:Key=V any volume configuration key (repeatable), e.g. --set Pipeline:PackerBins=16
        """;

    public IReadOnlyList<WorkloadMix> Workloads { get; init; } =
        [WorkloadMix.Unique, WorkloadMix.Dup50, WorkloadMix.Compressible, WorkloadMix.Mixed];

    public int Blocks { get; init; } = AddressGenerator.DefaultWorkingSetBlocks * 3 / 2;

    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromSeconds(120);

    public long Seed { get; init; } = 42;

    public string CorpusPath { get; init; } = Corpus.DefaultPath;

    public int WorkingSetBlocks { get; init; } = AddressGenerator.DefaultWorkingSetBlocks;

    public int DuplicateWindow { get; init; } = BlockGenerator.DefaultDuplicateWindow;

    public bool Sequential { get; init; }

    public bool Json { get; init; }

    public IReadOnlyList<string> Sets { get; init; } = [];

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> with a readable message.</summary>
    public static BaselineOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BaselineOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            options = name switch
            {
                "--workloads" => options with { Workloads = [.. Value(args, ref i).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(WorkloadMix.Parse)] },
                "--blocks" => options with { Blocks = (int)Number(args, ref i, 1, BlockSet.MaxBlocks) },
                "--seconds" => options with { TimeLimit = TimeSpan.FromSeconds(Number(args, ref i, 1, 86_400)) },
                "--seed" => options with { Seed = Number(args, ref i, long.MinValue, long.MaxValue) },
                "--corpus" => options with { CorpusPath = Value(args, ref i) },
                "--working-set" => options with { WorkingSetBlocks = (int)Number(args, ref i, 1, int.MaxValue) },
                "--window" => options with { DuplicateWindow = (int)Number(args, ref i, 1, int.MaxValue) },
                "--sequential" => options with { Sequential = true },
                "--json" => options with { Json = true },
                "--set" => options with { Sets = [.. options.Sets, Value(args, ref i)] },
                _ => throw new ArgumentException($"Unknown option '{name}'."),
            };
        }

        if (options.Workloads.Count == 0)
        {
            throw new ArgumentException("--workloads names no workload.");
        }

        return options;
    }

    private static string Value(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count)
        {
            throw new ArgumentException($"Option '{args[i]}' needs a value.");
        }

        return args[++i];
    }

    private static long Number(IReadOnlyList<string> args, ref int i, long min, long max)
    {
        string name = args[i];
        string text = Value(args, ref i).Replace("_", "", StringComparison.Ordinal);
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) || value < min || value > max)
        {
            throw new ArgumentException($"Option '{name}' needs a whole number in [{min}, {max}]; got '{text}'.");
        }

        return value;
    }
}
