using System.CommandLine;
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
        var common = new CommonOptions();
        var command = new Command("graph", "draw the configured message-passing graph (zones, worker pools, handoffs) as Graphviz dot or Mermaid") { format };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var name = r.GetValue(format)!.Trim().ToLowerInvariant();
            if (Array.IndexOf(Formats, name) < 0)
                throw new ArgumentException($"--format '{r.GetValue(format)}' is not one of: {string.Join(", ", Formats)}");
            var options = common.Load(r);
            var graph = PipelineGraph.Build(options);
            var note = Note(options);
            Console.Out.Write(name == "dot" ? DotWriter.Render(graph, note) : MermaidWriter.Render(graph, note));
            return 0;
        }));
        return command;
    }

    /// <summary>A remark for the top of the drawing when the configured scheme does not run this graph.</summary>
    internal static string? Note(VdoOptions options) => options.Pipeline.Scheme == SchemeKind.Inline
        ? "the configured scheme is Inline (Pipeline:Scheme), which runs every step on the caller: this graph is what Pipeline:Scheme=MessagePassing would run"
        : null;
}
