using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DataflowVdo.Cli.Bench;
using DataflowVdo.Cli.Graph;
using DataflowVdo.Config;
using DataflowVdo.Pipeline.Graph;

namespace DataflowVdo.Cli.Commands;

/// <summary><c>dvdo graph [--format dot|mermaid]</c>: draws the configured message-passing graph on stdout.</summary>
internal static class GraphCommand
{
    /// <summary>The drawing formats, by their <c>--format</c> name.</summary>
    private static readonly string[] Formats = ["dot", "mermaid"];

    public static Command Create()
    {
        var format = new Option<string>("--format", "-f")
        {
            Description = "dot (Graphviz: dvdo graph | dot -Tsvg > graph.svg) or mermaid",
            DefaultValueFactory = _ => "dot",
        };
        var figures = new Option<FileInfo?>("--figures")
        {
            Description = "a `dvdo bench --json` output: label each block with what it did in that run (messages per write, busy %, mean queue depth)",
        };
        var common = new CommonOptions();
        var command = new Command("graph", "draw the configured message-passing graph (zones, worker pools, handoffs) as Graphviz dot or Mermaid") { format, figures };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var name = r.GetValue(format)!.Trim().ToLowerInvariant();
            if (Array.IndexOf(Formats, name) < 0)
                throw new ArgumentException($"--format '{r.GetValue(format)}' is not one of: {string.Join(", ", Formats)}");
            var options = common.Load(r);
            var graph = PipelineGraph.Build(options);
            var note = Note(options);
            var live = r.GetValue(figures) is { } file ? ReadFigures(file) : null;
            Console.Out.Write(name == "dot" ? DotWriter.Render(graph, note, live) : MermaidWriter.Render(graph, note, live));
            return 0;
        }));
        return command;
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

    /// <summary>A remark for the top of the drawing when the configured scheme does not run this graph.</summary>
    internal static string? Note(VdoOptions options) => options.Pipeline.Scheme switch
    {
        SchemeKind.Inline => "the configured scheme is Inline (Pipeline:Scheme), which runs every step on the caller: this graph is what Pipeline:Scheme=MessagePassing would run",
        SchemeKind.StructureLocking => "the configured scheme is StructureLocking (Pipeline:Scheme): requests run these steps themselves under each zone's lock, so the edges are steps in order, not handoffs",
        _ => null,
    };
}
