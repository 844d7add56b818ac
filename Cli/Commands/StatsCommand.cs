using System.CommandLine;
using System.Text.Json;
using DataflowVdo.Pipeline;

namespace DataflowVdo.Cli.Commands;

/// <summary><c>dvdo stats POOL [--verbose] [--json]</c>: the vdostats figures.</summary>
internal static class StatsCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static Command Create()
    {
        var pool = new Argument<string>("pool") { Description = "pool file" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "every counter, in vdostats --verbose style" };
        var json = new Option<bool>("--json") { Description = "one JSON object with vdostats' --verbose names in camelCase" };
        var common = new CommonOptions();
        var command = new Command("stats", "space usage and savings of a pool (like vdostats)") { pool, verbose, json };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var path = r.GetValue(pool)!;
            var mode = r.GetValue(json) ? "json" : r.GetValue(verbose) ? "verbose" : "table";
            var options = common.Load(r);
            // While the pool is mounted, the mount process answers with live figures.
            if (LiveQuery.TryAsk(path, "stats " + mode, out var live))
                return live;
            VolumeStatistics s;
            // Read-only: looking at a pool never changes it (a pool not closed cleanly is recovered in memory only).
            using (var volume = PoolFile.OpenForInspection(path, options))
            {
                s = volume.GetStatistics();
                if (volume.Recovered)
                    Console.Error.WriteLine($"dvdo: {path} was not closed cleanly: these figures are after a recovery in memory (nothing written; the next open or mount recovers it)");
            }
            Console.Write(Render(path, s, mode));
            return 0;
        }));
        return command;
    }

    /// <summary>The output of <c>dvdo stats</c> in <paramref name="mode"/> (table, verbose or json).</summary>
    internal static string Render(string path, VolumeStatistics s, string mode)
    {
        var w = new StringWriter();
        if (mode == "json")
            w.WriteLine(JsonSerializer.Serialize(ToJson(s), Json));
        else if (mode == "verbose")
            PrintVerbose(w, path, s);
        else
            PrintTable(w, path, s);
        return w.ToString();
    }

    private static void PrintTable(TextWriter w, string path, VolumeStatistics s)
    {
        w.WriteLine($"{"Device",-24} {"1k-blocks",12} {"Used",12} {"Available",12} {"Use%",5} {"Space saving%",14}");
        w.WriteLine($"{Path.GetFileName(path),-24} {s.OneKBlocks,12} {s.OneKBlocksUsed,12} {s.OneKBlocksAvailable,12} {s.UsedPercent,4}% {s.SavingPercent,13}%");
    }

    private static void PrintVerbose(TextWriter w, string path, VolumeStatistics s)
    {
        w.WriteLine($"{path} :");
        foreach (var (key, value) in Flatten(ToJson(s)))
            w.WriteLine($"  {key,-40} : {value}");
    }

    private static IEnumerable<(string, object?)> Flatten(Dictionary<string, object?> d, string prefix = "")
    {
        foreach (var (k, v) in d)
        {
            if (v is Dictionary<string, object?> inner)
            {
                foreach (var pair in Flatten(inner, prefix + k + " "))
                    yield return pair;
            }
            else
            {
                yield return (prefix + k, v);
            }
        }
    }

    /// <summary>The JSON shape: vdostats --verbose names in camelCase.</summary>
    internal static Dictionary<string, object?> ToJson(VolumeStatistics s)
    {
        var c = s.Counters;
        return new Dictionary<string, object?>
        {
            ["blockSize"] = s.BlockSize,
            ["physicalBlocks"] = s.PhysicalBlocks,
            ["logicalBlocks"] = s.LogicalBlocks,
            ["dataBlocksUsed"] = s.DataBlocksUsed,
            ["overheadBlocksUsed"] = s.OverheadBlocksUsed,
            ["logicalBlocksUsed"] = s.LogicalBlocksUsed,
            ["oneKBlocks"] = s.OneKBlocks,
            ["oneKBlocksUsed"] = s.OneKBlocksUsed,
            ["oneKBlocksAvailable"] = s.OneKBlocksAvailable,
            ["usedPercent"] = s.UsedPercent,
            ["savingPercent"] = s.SavingPercent,
            ["mode"] = s.ReadOnly ? "read-only" : "normal",
            ["readOnlyReason"] = s.ReadOnlyReason,
            ["recoveryCount"] = c.Recoveries,
            ["dataChecksumFailures"] = c.DataChecksumFailures,
            ["biosIn"] = new Dictionary<string, object?> { ["write"] = c.WritesIn, ["read"] = c.ReadsIn, ["discard"] = c.DiscardsIn, ["flush"] = c.FlushesIn },
            ["dedupeAdviceValid"] = c.DedupeAdviceValid,
            ["dedupeAdviceStale"] = c.DedupeAdviceStale,
            ["dedupeRollovers"] = c.DedupeRollovers,
            ["zeroBlocksWritten"] = c.ZeroBlocksWritten,
            ["dataBlocksWritten"] = c.DataBlocksWritten,
            ["compressedFragmentsWritten"] = c.CompressedFragmentsWritten,
            ["compressedBlocksWritten"] = c.CompressedBlocksWritten,
            ["compressedFragmentBytes"] = c.CompressedFragmentBytes,
            ["compressedFragmentsInPacker"] = s.PackerFragmentsWaiting,
            ["compressionSkipped"] = s.CompressionSkipped,
            ["index"] = new Dictionary<string, object?> { ["entriesIndexed"] = s.IndexEntries, ["capacity"] = s.IndexCapacity },
            ["journal"] = new Dictionary<string, object?>
            {
                ["entriesWritten"] = c.JournalEntries,
                ["blocksWritten"] = c.JournalBlockWrites,
                ["blocksInUse"] = s.JournalBlocksInUse,
                ["blocks"] = s.JournalBlocks,
                ["checkpoints"] = c.Checkpoints,
            },
            ["slabCount"] = s.SlabCount,
            ["slabBlocks"] = s.SlabBlocks,
            ["slabs"] = new Dictionary<string, object?>
            {
                ["journalBlocksWritten"] = s.SlabJournalBlocksWritten,
                ["refCountBlocksWritten"] = s.RefCountBlocksWritten,
            },
            ["blockMapPagesWritten"] = s.BlockMapPagesWritten,
            ["metadataBlocksWritten"] = s.MetadataBlocksWritten,
            ["blockMapPages"] = s.BlockMapPages,
        };
    }
}
