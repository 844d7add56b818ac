using System.CommandLine;
using System.Text.Json;
using DataflowVdo.Pipeline;
using Spectre.Console;

namespace DataflowVdo.Cli.Commands;

/// <summary>
/// <c>dvdo scrub POOL [--json]</c>: reads and verifies every metadata block and every data block
/// and packed fragment in use; names each damaged block and every image and LBN it affects; exits
/// 3 when anything is damaged. Through a running mount when the pool is mounted.
/// </summary>
internal static class ScrubCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static Command Create()
    {
        var pool = new Argument<string>("pool") { Description = "pool file" };
        var json = new Option<bool>("--json") { Description = "the report as one JSON object" };
        var common = new CommonOptions();
        var command = new Command("scrub", "read and verify every used data block, packed fragment and metadata block against its checksum; report what is damaged and which images and LBNs it affects (exit 3 when anything is); goes through the mount when the pool is mounted") { pool, json };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var path = r.GetValue(pool)!;
            var asJson = r.GetValue(json);
            ScrubReport report;
            if (LiveQuery.TryAskRaw(path, "scrub", TimeSpan.FromDays(1), out var live, out var error))
            {
                if (error is not null)
                {
                    Console.Error.WriteLine($"dvdo: {error}");
                    return CommandRunner.Failed;
                }
                report = JsonSerializer.Deserialize<ScrubReport>(live, Json) ?? throw new InvalidDataException("the mount sent no scrub report");
            }
            else
            {
                // Read-only: a scrub never changes the pool (a pool not closed cleanly is recovered in memory only).
                using var volume = PoolFile.OpenForInspection(path, common.Load(r));
                report = Run(volume, showProgress: !asJson && !Console.IsOutputRedirected && !Console.IsErrorRedirected);
            }
            if (asJson)
                Console.WriteLine(Render(report));
            else
                Print(path, report);
            return report.Clean ? 0 : CommandRunner.Damaged;
        }));
        return command;
    }

    /// <summary>The report as JSON (also the mount's answer to a <c>scrub</c> request).</summary>
    internal static string Render(ScrubReport report) => JsonSerializer.Serialize(report, Json);

    private static ScrubReport Run(Volume volume, bool showProgress)
    {
        if (!showProgress)
            return volume.Scrub();
        ScrubReport? report = null;
        AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("scrub: metadata", maxValue: 1);
                task.IsIndeterminate = true;
                report = volume.Scrub(new InlineProgress(p =>
                {
                    task.Description = $"scrub: {p.Phase}";
                    if (p.Total <= 0)
                        return;
                    task.IsIndeterminate = false;
                    task.MaxValue = p.Total;
                    task.Value = p.Done;
                }));
            });
        return report!;
    }

    private static void Print(string path, ScrubReport report)
    {
        foreach (var d in report.Damage)
        {
            var where = d.Pbn >= 0 ? $"{d.Region} at PBN {d.Pbn}" : d.Region;
            var affected = d.Affected.Count == 0 ? "" : "; affects " + string.Join(", ", d.Affected.Select(Describe));
            Console.Error.WriteLine($"{path}: damaged {where}: {d.Problem}{affected}");
        }
        var summary = $"{path}: scrubbed {report.DataBlocks} data block(s), {report.PackedBlocks} packed block(s) ({report.Fragments} fragment(s)) and {report.MetadataBlocks} metadata block(s)";
        if (report.Clean)
            Console.WriteLine($"{summary}: no damage");
        else
            Console.Error.WriteLine($"{summary}: {report.Damage.Count} damaged");
    }

    private static string Describe(ScrubReference r) =>
        (r.Image is null ? $"LBN {r.Lbn} (no image)" : $"{r.Image} block {r.ImageBlock} (LBN {r.Lbn}, offset {r.ImageBlock * 4096})")
        + (r.Slot >= 0 ? $" slot {r.Slot}" : "");

    /// <summary>Reports on the scrubbing thread (the progress display reads the values it sets).</summary>
    private sealed class InlineProgress(Action<ScrubProgress> report) : IProgress<ScrubProgress>
    {
        public void Report(ScrubProgress value) => report(value);
    }
}
