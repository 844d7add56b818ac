using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DataflowVdo.Cli.Bench;
using DataflowVdo.Cli.Graph;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Pipeline.Graph;

namespace DataflowVdo.Cli.Commands;

/// <summary><c>dvdo graph [--format dot|mermaid|json] [--scheme NAME]</c>: draws the graph the configured scheme runs, from the stage table, on stdout.</summary>
internal static class GraphCommand
{
    /// <summary>The drawing formats, by their <c>--format</c> name.</summary>
    private static readonly string[] Formats = ["dot", "mermaid", "json"];

    public static Command Create()
    {
        var format = new Option<string>("--format", "-f")
        {
            Description = "dot (Graphviz: dvdo graph | dot -Tsvg > graph.svg), mermaid, or json (nodes with their executors, edges with their labels)",
            DefaultValueFactory = _ => "dot",
        };
        var scheme = new Option<string?>("--scheme")
        {
            Description = "draw this scheme's graph (Inline, MessagePassing, StructureLocking) instead of Pipeline:Scheme's",
        };
        var unwind = new Option<bool>("--unwind")
        {
            Description = "also draw the failure-unwinding transitions (every step to the zones whose locks and pins a failed request gives back)",
        };
        var figures = new Option<FileInfo?>("--figures")
        {
            Description = "a `dvdo bench --json` output: label each block with what it did in that run (messages per write, busy %, mean queue depth)",
        };
        var live = new Option<string?>("--live")
        {
            Description = "a pool mounted by `dvdo mount`: draw the graph that mount runs, each block labelled with its figures over the next second (messages/s, busy %, mean queue depth)",
        };
        var common = new CommonOptions();
        var command = new Command("graph", "draw the graph the configured scheme runs (zones and worker pools grouped by executor, transitions between them) as Graphviz dot, Mermaid or JSON") { format, scheme, unwind, figures, live };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var name = r.GetValue(format)!.Trim().ToLowerInvariant();
            if (Array.IndexOf(Formats, name) < 0)
                throw new ArgumentException($"--format '{r.GetValue(format)}' is not one of: {string.Join(", ", Formats)}");
            if (r.GetValue(live) is { } pool)
            {
                if (r.GetValue(figures) is not null)
                    throw new ArgumentException("--live and --figures exclude each other");
                if (LiveQuery.TryAsk(pool, $"graph {name}", out var code))
                    return code;
                Console.Error.WriteLine($"dvdo: {pool}: no `dvdo mount` of this pool answers (--live draws a mounted pool's running graph)");
                return CommandRunner.Failed;
            }
            var options = common.Load(r);
            if (r.GetValue(scheme) is { } schemeName)
            {
                if (!Enum.TryParse<SchemeKind>(schemeName, ignoreCase: true, out var kind) || !Enum.IsDefined(kind))
                    throw new ArgumentException($"--scheme '{schemeName}' is not one of: {string.Join(", ", Enum.GetNames<SchemeKind>())}");
                options.Pipeline.Scheme = kind;
            }
            var labels = r.GetValue(figures) is { } file ? ReadFigures(file) : null;
            Console.Out.Write(Render(options, name, labels, r.GetValue(unwind)));
            return 0;
        }));
        return command;
    }

    private static string Render(VdoOptions options, string format, Dictionary<string, string>? labels, bool unwind = false)
    {
        var graph = PipelineGraph.Build(options, unwind: unwind);
        var note = Note(options);
        return format switch
        {
            "dot" => DotWriter.Render(graph, note, labels),
            "mermaid" => MermaidWriter.Render(graph, note, labels),
            _ => JsonGraphWriter.Render(graph, labels),
        };
    }

    /// <summary>
    /// The mount's side of <c>dvdo graph --live</c>: the graph <paramref name="options"/> run, each
    /// block labelled with its messages per second, busy share and mean queue depth over
    /// <paramref name="window"/> (figures read without stopping the pipeline).
    /// </summary>
    internal static string RenderLive(VdoOptions options, Volume volume, string format, TimeSpan window)
    {
        if (Array.IndexOf(Formats, format) < 0)
            throw new ArgumentException($"format '{format}' is not one of: {string.Join(", ", Formats)}");
        var before = volume.PipelineFigures();
        var depth = new double[before.Count];
        var samples = 0;
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        while (System.Diagnostics.Stopwatch.GetElapsedTime(start) < window)
        {
            var now = volume.PipelineFigures();
            for (var i = 0; i < now.Count && i < depth.Length; i++)
                depth[i] += now[i].QueueDepth;
            samples++;
            Thread.Sleep(20);
        }
        var after = volume.PipelineFigures();
        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
        var ci = CultureInfo.InvariantCulture;
        var labels = new Dictionary<string, string>();
        for (var i = 0; i < after.Count && i < before.Count; i++)
        {
            var a = after[i];
            var b = before[i];
            labels[a.Block] = string.Create(ci, $"{(a.Messages - b.Messages) / seconds:0} msg/s, busy {100 * (a.BusySeconds - b.BusySeconds) / (seconds * a.Parallelism):0}%, queue {depth[i] / Math.Max(1, samples):0.0}");
        }
        return Render(options, format, labels);
    }

    /// <summary>Per-block labels from the message-passing result of a bench run's JSON.</summary>
    internal static Dictionary<string, string> ReadFigures(FileInfo file)
    {
        if (!file.Exists)
            throw new ArgumentException($"--figures {file.FullName}: no such file");
        BenchReport? report;
        try
        {
            report = JsonSerializer.Deserialize<BenchReport>(File.ReadAllText(file.FullName));
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"--figures {file.FullName} is not the JSON of `dvdo bench --json`: {e.Message}");
        }
        var run = report?.Results.FirstOrDefault(x => x.Blocks.Count > 0)
            ?? throw new ArgumentException($"--figures {file.FullName} holds no message-passing result (run dvdo bench --scheme MessagePassing --json)");
        var ci = CultureInfo.InvariantCulture;
        return run.Blocks.ToDictionary(b => b.Block,
            b => string.Create(ci, $"{b.MessagesPerWrite:0.00} msg/write, busy {b.BusyPercent:0}%, queue {b.MeanQueueDepth:0.0}"));
    }

    /// <summary>A remark for the top of the drawing when the edges are not handoffs between Dataflow blocks: how the scheme moves a request along them.</summary>
    internal static string? Note(VdoOptions options) => options.Pipeline.Scheme switch
    {
        SchemeKind.Inline => "scheme Inline: every zone runs under the volume's lock on the caller's thread; hashing, compression, verify reads and data writes run on the caller outside it (edges are steps in order, not handoffs)",
        SchemeKind.StructureLocking => "scheme StructureLocking: a request runs the steps itself, taking each zone's lock in turn (edges are steps in order, not handoffs)",
        _ => null, // MessagePassing: each node is a Dataflow block, each edge a handoff
    };
}
