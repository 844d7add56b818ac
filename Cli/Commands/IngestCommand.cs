using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DataflowVdo.Blocks.Chunking;
using DataflowVdo.Pipeline;
using DataflowVdo.Pipeline.Backup;
using DataflowVdo.Storage;
using Spectre.Console;

namespace DataflowVdo.Cli.Commands;

/// <summary><c>dvdo ingest POOL --name NAME [FILE ...|-]</c>: streams a backup into a new read-only image.</summary>
internal static class IngestCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static Command Create()
    {
        var pool = new Argument<string>("pool") { Description = "pool file" };
        var inputs = new Argument<string[]>("input") { Description = "files to ingest one after the other (none or '-': standard input)", Arity = ArgumentArity.ZeroOrMore };
        var name = new Option<string>("--name") { Description = "name of the new backup image (1..64 bytes, no '/' or control characters)", Required = true };
        var align = new Option<string>("--align") { Description = "fixed: 4 KiB blocks as they come; cdc: content-defined chunks, each on a 4 KiB boundary (keeps dedupe when data shifts); hybrid: cdc, with cuts snapped to 4 KiB boundaries of the stream where it repeats aligned blocks (images)", DefaultValueFactory = _ => IngestSettings.DefaultAlignment.ToString().ToLowerInvariant() };
        align.AcceptOnlyFromAmong("fixed", "cdc", "hybrid");
        var min = new Option<string?>("--chunk-min") { Description = $"smallest cdc chunk (default {ChunkerParameters.Default.MinBytes / 1024}K)" };
        var avg = new Option<string?>("--chunk-avg") { Description = $"average cdc chunk, a power of two (default {ChunkerParameters.Default.AverageBytes / 1024}K)" };
        var max = new Option<string?>("--chunk-max") { Description = $"largest cdc chunk (default {ChunkerParameters.Default.MaxBytes / 1024}K)" };
        var json = new Option<bool>("--json") { Description = "print a JSON summary instead of the summary line" };
        var common = new CommonOptions();
        var command = new Command("ingest", "stream a backup (files or standard input) into a new read-only backup image; nothing is kept if it fails or is interrupted") { pool, inputs, name, align, min, avg, max, json };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var chunker = new ChunkerParameters
            {
                MinBytes = Size(r.GetValue(min), ChunkerParameters.Default.MinBytes, "--chunk-min"),
                AverageBytes = Size(r.GetValue(avg), ChunkerParameters.Default.AverageBytes, "--chunk-avg"),
                MaxBytes = Size(r.GetValue(max), ChunkerParameters.Default.MaxBytes, "--chunk-max"),
            };
            if (chunker.Validate() is { } problem)
                throw new ArgumentException(problem);
            var settings = new IngestSettings
            {
                Alignment = IngestSettings.ParseAlignment(r.GetValue(align)!),
                Chunker = chunker,
            };
            var imageName = r.GetValue(name)!;
            if (ImageCatalog.ValidateName(imageName) is { } bad)
                throw new ArgumentException(bad);
            var options = common.Load(r);
            var path = r.GetValue(pool)!;
            using var input = InputSequence.Open(r.GetValue(inputs) ?? []);
            using var cancellation = new Cancellation();
            try
            {
                // While the pool is mounted, the mount ingests (one dedupe domain with its images)
                // and reports its progress for the bar.
                var showProgress = !Console.IsOutputRedirected && !r.GetValue(json);
                var request = new LiveBackup.IngestRequest(imageName, r.GetValue(align)!, chunker.MinBytes, chunker.AverageBytes, chunker.MaxBytes, input.KnownLength);
                var liveProgress = showProgress ? new IngestProgress() : null;
                var live = Task.Run(() => (LiveBackup.TryIngest(path, request, input, cancellation.Token, out var c, out var s, liveProgress), c, s));
                if (liveProgress is not null)
                    ShowProgress(imageName, input.KnownLength, liveProgress, live);
                var (served, code, summary) = live.GetAwaiter().GetResult();
                if (served)
                {
                    if (code == 0)
                        Console.WriteLine(r.GetValue(json) ? summary : SummaryLine(JsonDocument.Parse(summary!).RootElement));
                    return code;
                }
                using var volume = PoolFile.Open(path, options);
                var result = Run(volume, imageName, input, settings, showProgress, cancellation.Token);
                Console.WriteLine(r.GetValue(json) ? JsonSerializer.Serialize(Summary(result), Json) : SummaryLine(result));
                return 0;
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"dvdo: ingest of '{imageName}' interrupted; nothing of it was kept");
                return Cancellation.Interrupted;
            }
        }));
        return command;
    }

    private static int Size(string? text, int fallback, string what) =>
        text is null ? fallback : (int)Math.Min(int.MaxValue, SizeParser.ParseBytes(text, what));

    private static IngestResult Run(Volume volume, string name, InputSequence input, IngestSettings settings, bool showProgress, CancellationToken cancellation)
    {
        var progress = new IngestProgress();
        if (!showProgress)
            return BackupIngest.Run(volume, name, input, input.KnownLength, settings, progress, cancellation);
        var work = Task.Run(() => BackupIngest.Run(volume, name, input, input.KnownLength, settings, progress, cancellation), cancellation);
        ShowProgress(name, input.KnownLength, progress, work);
        return work.GetAwaiter().GetResult();
    }

    /// <summary>The progress bar (bytes, MB/s, savings so far; the share done and ETA when the length is known) until <paramref name="work"/> ends.</summary>
    private static void ShowProgress(string name, long? knownLength, IngestProgress progress, Task work)
    {
        var started = DateTime.UtcNow;
        AnsiConsole.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(name, maxValue: knownLength is > 0 ? knownLength.Value : 1);
                task.IsIndeterminate = knownLength is null or 0;
                while (!work.Wait(200))
                {
                    var read = progress.BytesRead;
                    var seconds = Math.Max(0.001, (DateTime.UtcNow - started).TotalSeconds);
                    var written = progress.BlocksWritten * (double)VdoConstants.BlockSize;
                    var saved = written <= 0 ? 0 : Math.Max(0, 100 - (progress.StoredBlocks * VdoConstants.BlockSize * 100.0 / written));
                    task.Description = string.Create(CultureInfo.InvariantCulture, $"{Markup.Escape(name)}  {SizeParser.Format(read)}  {read / seconds / 1e6:0} MB/s  {saved:0.0}% saved");
                    if (!task.IsIndeterminate)
                        task.Value = read;
                }
            });
    }

    private static string SummaryLine(IngestResult r) => SummaryLine(JsonSerializer.SerializeToElement(Summary(r)));

    /// <summary>The one-line summary, from the <c>--json</c> summary (a mount's answer is that JSON).</summary>
    private static string SummaryLine(JsonElement s)
    {
        var bytes = s.GetProperty("bytes").GetInt64();
        var alignment = s.GetProperty("alignment").GetString();
        var chunks = alignment != "fixed" ? $", {s.GetProperty("chunks").GetInt32()} chunks" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"ingested '{s.GetProperty("name").GetString()}': {bytes} bytes in {s.GetProperty("seconds").GetDouble():0.00} s ({s.GetProperty("megabytesPerSecond").GetDouble():0} MB/s), {alignment}{chunks}, stored {s.GetProperty("storedBytes").GetInt64()} bytes ({s.GetProperty("savingPercent").GetDouble():0.0}% saved), sha256 {s.GetProperty("sha256").GetString()}");
    }

    /// <summary>The <c>--json</c> summary.</summary>
    internal static object Summary(IngestResult r)
    {
        var m = r.Manifest;
        return new
        {
            name = r.Image.Name,
            bytes = m.StreamLength,
            sha256 = Convert.ToHexStringLower(m.Sha256),
            alignment = m.Alignment.ToString().ToLowerInvariant(),
            chunks = m.ChunkLengths.Length,
            chunkMin = m.ChunkSizes.Min,
            chunkAverage = m.ChunkSizes.Average,
            chunkMax = m.ChunkSizes.Max,
            imageBlocks = m.TotalBlocks,
            storedBytes = m.StoredBlocks * (long)VdoConstants.BlockSize,
            savingPercent = Math.Round(m.SavingPercent, 2),
            seconds = Math.Round(r.Elapsed.TotalSeconds, 3),
            megabytesPerSecond = Math.Round(m.StreamLength / Math.Max(0.001, r.Elapsed.TotalSeconds) / 1e6, 1),
            created = r.Image.Created.UtcDateTime,
        };
    }
}
