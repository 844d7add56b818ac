using System.CommandLine;
using System.Diagnostics;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Workloads;
using Spectre.Console;

namespace DataflowVdo.Cli.Commands;

/// <summary>
/// <c>dvdo demo</c>: the main job on the embedded default. Formats a pool in a plain file,
/// writes a generated workload (docs/workloads.md "mixed": duplicates, real compressible data from
/// the corpus, zero blocks), closes and reopens it, reads every block back and verifies it,
/// checks consistency, and prints the space savings.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var pool = new Option<string?>("--pool") { Description = "pool file to create (default: a temporary file, deleted afterwards)" };
        var blocks = new Option<int>("--blocks") { Description = "4 KiB blocks to write", DefaultValueFactory = _ => 65536 };
        var workload = new Option<string>("--workload") { Description = "block mix: mixed, unique, compressible, dup, zero, dup50", DefaultValueFactory = _ => "mixed" };
        var corpus = new Option<string>("--corpus") { Description = "folder whose files supply compressible blocks", DefaultValueFactory = _ => Corpus.DefaultOrInstalledPath() };
        var seed = new Option<long>("--seed") { Description = "seed of the generated workload", DefaultValueFactory = _ => 42 };
        var common = new CommonOptions();
        var command = new Command("demo", "format a pool in a file, write a workload with duplicates, compressible and zero blocks, read it back, verify, and print the savings")
        {
            pool, blocks, workload, corpus, seed,
        };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var options = common.Load(r);
            var count = r.GetValue(blocks);
            if (count <= 0)
                throw new ArgumentException("--blocks must be positive");
            var mix = WorkloadMix.Parse(r.GetValue(workload)!);
            var path = r.GetValue(pool);
            var temporary = path is null;
            path ??= Path.Combine(Path.GetTempPath(), $"dvdo-demo-{Environment.ProcessId}.pool");
            var corpusPath = r.GetValue(corpus)!;
            var workloadSeed = r.GetValue(seed);
            try
            {
                return Run(path, options, count, mix, corpusPath, workloadSeed);
            }
            finally
            {
                if (temporary)
                    File.Delete(path);
            }
        }));
        return command;
    }

    private static int Run(string path, Config.VdoOptions options, int count, WorkloadMix mix, string corpusPath, long seed)
    {
        // Physical: the logical data plus room for metadata; reduction makes most of it unnecessary.
        var physicalBlocks = Math.Max(16384, count + (count / 4) + 8192);
        var parameters = new FormatParameters { PhysicalBlocks = physicalBlocks, LogicalBlocks = Math.Max(count, 1) * 4L, SlabBlocks = 8192 };
        Console.WriteLine($"pool: {path} ({SizeParser.Format(physicalBlocks * 4096L)} file, {SizeParser.Format(parameters.LogicalBlocks * 4096)} thin logical)");
        var block = new byte[VdoConstants.BlockSize];
        var kinds = new long[4];
        Stopwatch write;
        using (var device = FileBlockDevice.Create(path, physicalBlocks))
        using (var volume = Volume.Format(device, parameters, options))
        using (var source = new Corpus(corpusPath))
        {
            var generator = new BlockGenerator(mix, seed, source);
            Console.WriteLine($"workload: {mix.Name} seed={seed} blocks={count} ({SizeParser.Format(count * 4096L)}), corpus={corpusPath}");
            write = Stopwatch.StartNew();
            for (var lbn = 0; lbn < count; lbn++)
            {
                generator.Next(block, out var kind);
                kinds[(int)kind]++;
                volume.Write(lbn, block);
            }
            volume.Flush();
            write.Stop();
        }

        // Reopen from the file and verify every block against the regenerated stream.
        var read = Stopwatch.StartNew();
        VolumeStatistics stats;
        IReadOnlyList<string> problems;
        var mismatches = 0;
        using (var volume = PoolFileOpen(path, options))
        using (var source = new Corpus(corpusPath))
        {
            var generator = new BlockGenerator(mix, seed, source);
            var actual = new byte[VdoConstants.BlockSize];
            for (var lbn = 0; lbn < count; lbn++)
            {
                generator.Next(block, out _);
                volume.Read(lbn, actual);
                if (!actual.AsSpan().SequenceEqual(block) && mismatches++ < 5)
                    Console.Error.WriteLine($"dvdo demo: LBN {lbn} read back different data");
            }
            read.Stop();
            problems = volume.Check();
            stats = volume.GetStatistics();
        }
        Print(stats, count, kinds, write.Elapsed, read.Elapsed);
        foreach (var p in problems)
            Console.Error.WriteLine($"dvdo demo: check: {p}");
        if (mismatches > 0 || problems.Count > 0)
        {
            Console.Error.WriteLine($"dvdo demo: FAILED: {mismatches} blocks differ, {problems.Count} inconsistencies");
            return CommandRunner.Damaged;
        }
        Console.WriteLine($"verified: all {count} blocks read back identical after close and reopen; check: consistent");
        return 0;
    }

    private static Volume PoolFileOpen(string path, Config.VdoOptions options) => PoolFile.Open(path, options);

    private static void Print(VolumeStatistics s, int count, long[] kinds, TimeSpan write, TimeSpan read)
    {
        var c = s.Counters;
        var logicalBytes = count * 4096L;
        var table = new Table().AddColumn("figure").AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("blocks written (zero / random / corpus / duplicate)", $"{count} ({kinds[(int)BlockKind.Zero]} / {kinds[(int)BlockKind.Random]} / {kinds[(int)BlockKind.Corpus]} / {kinds[(int)BlockKind.Duplicate]})");
        table.AddRow("logical data", SizeParser.Format(logicalBytes));
        table.AddRow("physical data blocks used", $"{s.DataBlocksUsed} ({SizeParser.Format(s.DataBlocksUsed * 4096)})");
        table.AddRow("saved by zero elimination (blocks)", c.ZeroBlocksWritten.ToString());
        table.AddRow("saved by dedupe (blocks shared)", c.DedupeAdviceValid.ToString());
        table.AddRow("compressed fragments / packed blocks", $"{c.CompressedFragmentsWritten} / {c.CompressedBlocksWritten}");
        table.AddRow("space saving", $"{s.SavingPercent}%");
        table.AddRow("write throughput (incl. flush)", $"{logicalBytes / 1048576.0 / write.TotalSeconds:0.0} MiB/s");
        if (Console.IsOutputRedirected)
            AnsiConsole.Profile.Width = 160;
        table.AddRow("read + verify throughput", $"{logicalBytes / 1048576.0 / read.TotalSeconds:0.0} MiB/s");
        AnsiConsole.Write(table);
    }
}
