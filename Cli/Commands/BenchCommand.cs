using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DataflowVdo.Cli.Bench;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Workloads;
using Spectre.Console;

namespace DataflowVdo.Cli.Commands;

/// <summary>
/// <c>dvdo bench</c>: a load generator in the spirit of fio over the blocks of docs/workloads.md,
/// measuring each selected scheme in the same run, beside the compute ceiling of the same blocks.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var workload = new Option<string>("--workload") { Description = "mixed, unique, dup, compressible, zero, read (or dup50)", DefaultValueFactory = _ => "mixed" };
        var scheme = new Option<string>("--scheme") { Description = "a scheme name, 'Batched' (StructureLocking with Pipeline:LockBatch=64), 'both' (MessagePassing and StructureLocking) or 'all' (every scheme, and Batched when --request-blocks > 1)", DefaultValueFactory = _ => "all" };
        var seconds = new Option<double>("--seconds") { Description = "time limit of each measured run", DefaultValueFactory = _ => 10 };
        var depth = new Option<int>("--queue-depth") { Description = "requests in flight (one thread each)", DefaultValueFactory = _ => 1 };
        var device = new Option<string>("--device") { Description = "memory or file", DefaultValueFactory = _ => "memory" };
        var blocks = new Option<int>("--blocks") { Description = "blocks to pre-generate (the run cycles through them)", DefaultValueFactory = _ => 262_144 };
        var workingSet = new Option<int>("--working-set") { Description = "logical working set in blocks", DefaultValueFactory = _ => AddressGenerator.DefaultWorkingSetBlocks };
        var sequential = new Option<bool>("--sequential") { Description = "sequential instead of random LBNs" };
        var seed = new Option<long>("--seed") { Description = "seed of blocks and addresses", DefaultValueFactory = _ => 42 };
        var corpus = new Option<string>("--corpus") { Description = "corpus folder", DefaultValueFactory = _ => Corpus.DefaultOrInstalledPath() };
        var json = new Option<bool>("--json") { Description = "print one JSON object" };
        var requestBlocks = new Option<int>("--request-blocks") { Description = "blocks per request (consecutive LBNs, like fio's bs): 1..256", DefaultValueFactory = _ => 1 };
        var common = new CommonOptions();
        var command = new Command("bench", "measure write or read throughput, latency, CPU and allocation per scheme on a generated workload")
        {
            workload, scheme, seconds, depth, device, blocks, workingSet, sequential, seed, corpus, json, requestBlocks,
        };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var options = common.Load(r);
            var mix = WorkloadMix.Parse(r.GetValue(workload)!);
            var perRequest = r.GetValue(requestBlocks);
            if (perRequest is < 1 or > 256)
                throw new ArgumentException("--request-blocks must be between 1 and 256");
            var schemes = ResolveSchemes(r.GetValue(scheme)!, perRequest);
            var qd = r.GetValue(depth);
            if (qd is < 1 or > 4096)
                throw new ArgumentException("--queue-depth must be between 1 and 4096");
            var deviceKind = r.GetValue(device)!.ToLowerInvariant();
            if (deviceKind is not ("memory" or "file"))
                throw new ArgumentException($"--device '{deviceKind}' must be memory or file");
            var count = r.GetValue(blocks);
            var set = r.GetValue(workingSet);
            if (count < 1000 || set < 1000)
                throw new ArgumentException("--blocks and --working-set must be at least 1000");
            var duration = TimeSpan.FromSeconds(r.GetValue(seconds));
            if (duration <= TimeSpan.Zero)
                throw new ArgumentException("--seconds must be positive");
            var report = Run(options, mix, schemes, qd, deviceKind, count, set, r.GetValue(sequential), r.GetValue(seed), r.GetValue(corpus)!, duration, perRequest);
            if (r.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(report));
            else
                Print(report);
            return 0;
        }));
        return command;
    }

    /// <summary>One measured configuration: a scheme, and for the batched variant its lock batch.</summary>
    private sealed record BenchScheme(string Name, SchemeKind Kind, int? LockBatch = null);

    private static readonly BenchScheme Batched = new("Batched", SchemeKind.StructureLocking, 64);

    private static List<BenchScheme> ResolveSchemes(string text, int requestBlocks)
    {
        var every = Enum.GetValues<SchemeKind>().Select(k => new BenchScheme(k.ToString(), k)).ToList();
        if (text.Equals("all", StringComparison.OrdinalIgnoreCase))
            return requestBlocks > 1 ? [.. every, Batched] : every; // one-block requests make no batch
        if (text.Equals("both", StringComparison.OrdinalIgnoreCase))
            return [new(nameof(SchemeKind.MessagePassing), SchemeKind.MessagePassing), new(nameof(SchemeKind.StructureLocking), SchemeKind.StructureLocking)];
        if (text.Equals(Batched.Name, StringComparison.OrdinalIgnoreCase))
            return [Batched];
        return Enum.TryParse<SchemeKind>(text, ignoreCase: true, out var one)
            ? [new(one.ToString(), one)]
            : throw new ArgumentException($"--scheme '{text}' is not one of: {string.Join(", ", Enum.GetNames<SchemeKind>())}, {Batched.Name}, both, all");
    }

    private static BenchReport Run(VdoOptions options, WorkloadMix mix, List<BenchScheme> schemes, int qd, string deviceKind,
        int count, int workingSet, bool sequential, long seed, string corpusPath, TimeSpan duration, int requestBlocks)
    {
        using var source = new Corpus(corpusPath);
        var blockSet = BlockSet.Generate(new BlockGenerator(mix, seed, source), count);
        var addressGenerator = new AddressGenerator(seed, workingSet, sequential);
        var addresses = new long[count];
        for (var i = 0; i < count; i++)
            addresses[i] = addressGenerator.Next();
        var ceiling = ComputeCeiling.Measure(blockSet);
        var results = new List<BenchResult>();
        foreach (var scheme in schemes)
        {
            var o = Clone(options);
            o.Pipeline.Scheme = scheme.Kind;
            o.Pipeline.LockBatch = scheme.LockBatch ?? o.Pipeline.LockBatch;
            var physical = workingSet + (long)count + 65536;
            var file = deviceKind == "file" ? Path.Combine(Path.GetTempPath(), $"dvdo-bench-{Environment.ProcessId}.pool") : null;
            try
            {
                using IBlockDevice device = file is null ? new MemoryBlockDevice(physical, preallocate: true) : FileBlockDevice.Create(file, physical);
                using var volume = Volume.Format(device, new FormatParameters { LogicalBlocks = workingSet }, o);
                results.Add(new LoadRun(blockSet, addresses, mix.IsRead, qd, duration, requestBlocks, workingSet).Run(scheme.Name, volume, ceiling));
            }
            finally
            {
                if (file is not null)
                    File.Delete(file);
            }
        }
        return new BenchReport
        {
            Ratios = BenchRatio.Compare(results),
            Workload = mix.Name,
            Device = deviceKind,
            Cores = Environment.ProcessorCount,
            QueueDepth = qd,
            RequestBlocks = requestBlocks,
            Seed = seed,
            Corpus = corpusPath,
            ComputeCeilingMegabytesPerSecond = ceiling,
            Results = results,
        };
    }

    /// <summary>
    /// A deep copy of every option (through JSON, so that an option added later is copied too:
    /// a hand-written copy once dropped two, and the bench silently ran their defaults).
    /// </summary>
    internal static VdoOptions Clone(VdoOptions o) => JsonSerializer.Deserialize<VdoOptions>(JsonSerializer.Serialize(o))!;

    private static void Print(BenchReport report)
    {
        if (Console.IsOutputRedirected)
            AnsiConsole.Profile.Width = 200; // a file or a pipe: don't fold the table to 80 columns
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine($"workload={report.Workload} device={report.Device} cores={report.Cores} queue-depth={report.QueueDepth} request-blocks={report.RequestBlocks} seed={report.Seed} corpus={report.Corpus}");
        Console.WriteLine(string.Create(ci, $"compute ceiling (XxHash128 + LZ4 of the same blocks, all cores): {report.ComputeCeilingMegabytesPerSecond:0} MB/s"));
        var table = new Table().AddColumns("scheme", "MB/s", "IOPS", "p50 µs", "p99 µs", "p99.9 µs", "CPU s/GB", "handoffs/write", "locks/write", "contended", "alloc B/write", "of ceiling", "saving");
        foreach (var r in report.Results)
        {
            table.AddRow(r.Scheme, r.MegabytesPerSecond.ToString("0", ci), r.Iops.ToString("0", ci), r.P50Microseconds.ToString("0.0", ci),
                r.P99Microseconds.ToString("0.0", ci), r.P999Microseconds.ToString("0.0", ci), r.CpuSecondsPerGigabyte.ToString("0.00", ci),
                r.HandoffsPerWrite.ToString("0.0", ci), r.LockAcquisitionsPerWrite.ToString("0.0", ci), r.ContendedPercent.ToString("0.0", ci) + "%", r.AllocatedBytesPerWrite.ToString("0", ci), r.Efficiency.ToString("P0", ci), $"{r.SavingPercent}%");
        }
        AnsiConsole.Write(table);
        if (report.Ratios.Count > 0)
        {
            Console.WriteLine("ratios, same run (above 1: the first scheme has more of it; for MB/s, IOPS more is better, for latency, CPU and allocation less is):");
            var ratios = new Table().AddColumns("ratio", "MB/s", "IOPS", "p50 µs", "p99 µs", "p99.9 µs", "CPU s/GB", "alloc B/write");
            static string R(double? x) => x is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "—";
            foreach (var x in report.Ratios)
                ratios.AddRow($"{x.Of} ÷ {x.To}", R(x.MegabytesPerSecond), R(x.Iops), R(x.P50), R(x.P99), R(x.P999), R(x.CpuPerGigabyte), R(x.AllocatedBytes));
            AnsiConsole.Write(ratios);
        }
        foreach (var r in report.Results.Where(r => r.Blocks.Count > 0))
        {
            var locking = r.LockAcquisitionsPerWrite > 0; // StructureLocking and its batched variant
            Console.WriteLine(locking
                ? $"zones of {r.Scheme} (lock acquisitions or worker steps per write; busy = time held, % of parallelism):"
                : $"blocks of {r.Scheme} (busy % of their parallelism; queue = mean depth):");
            var blocks = new Table().AddColumns("block", "parallelism", locking ? "steps/write" : "messages/write", "busy %", "queue");
            foreach (var b in r.Blocks)
            {
                blocks.AddRow(b.Block, b.Parallelism.ToString(ci), b.MessagesPerWrite.ToString("0.00", ci),
                    b.BusyPercent.ToString("0", ci), b.MeanQueueDepth.ToString("0.0", ci));
            }
            AnsiConsole.Write(blocks);
        }
    }
}
