using System.Text;
using DataflowVdo.Blocks.Stages;
using DataflowVdo.Pipeline.Graph;

namespace DataflowVdo.Cli.Graph;

/// <summary>
/// Draws a <see cref="PipelineGraph"/> as a Mermaid flowchart (<c>flowchart LR</c>), with the same
/// content as <see cref="DotWriter"/>: zones as boxes, worker pools as parallelograms, admission
/// as a flag, acknowledgement as a stadium; labels are quoted with Mermaid's entity codes for
/// <c>"</c>, <c>#</c>, <c>&lt;</c> and <c>&gt;</c>, so any text renders literally.
/// </summary>
public static class MermaidWriter
{
    /// <summary>The drawing; each line of <paramref name="note"/> becomes a <c>%%</c> comment at the top.</summary>
    public static string Render(PipelineGraph graph, string? note = null, IReadOnlyDictionary<string, string>? figures = null)
    {
        var w = new StringWriter { NewLine = "\n" };
        Write(graph, w, note, figures);
        return w.ToString();
    }

    /// <summary>Writes the drawing to <paramref name="writer"/>.</summary>
    public static void Write(PipelineGraph graph, TextWriter writer, string? note = null, IReadOnlyDictionary<string, string>? figures = null)
    {
        if (note is not null)
        {
            // A comment line starting with "{" would be read as a directive: keep a space first.
            foreach (var line in note.Split('\n'))
                writer.WriteLine($"%% {line}");
        }
        writer.WriteLine("flowchart LR");
        var clusters = GraphClusters.Of(graph);
        for (var c = 0; c < clusters.Count; c++)
        {
            // Nodes sharing an executor (one lock, the caller's thread) are drawn inside one subgraph.
            writer.WriteLine($"    subgraph executor{c}[\"{Escape(clusters[c].Executor)}\"]");
            foreach (var node in clusters[c].Nodes)
                WriteNode(writer, node, figures, "        ");
            writer.WriteLine("    end");
        }
        foreach (var node in GraphClusters.Alone(graph, clusters))
            WriteNode(writer, node, figures, "    ");
        foreach (var edge in graph.Edges)
        {
            var arrow = edge.Kind == TransitionKind.Normal ? "-->" : "-.->";
            writer.WriteLine($"    {Id(edge.From)} {arrow}|\"{Escape(edge.Label)}\"| {Id(edge.To)}");
        }
    }

    private static void WriteNode(TextWriter writer, GraphNode node, IReadOnlyDictionary<string, string>? figures, string indent)
    {
        var label = string.Join("<br/>", GraphLabels.Lines(node, figures).Select(Escape));
        var (open, close) = Shape(node.Kind);
        writer.WriteLine($"{indent}{Id(node.Id)}{open}\"{label}\"{close}");
    }

    private static (string Open, string Close) Shape(GraphNodeKind kind) => kind switch
    {
        GraphNodeKind.Zone => ("[", "]"),
        GraphNodeKind.Pool => ("[/", "/]"),
        GraphNodeKind.Admission => (">", "]"),
        GraphNodeKind.Acknowledge => ("([", "])"),
        _ => ("(", ")"),
    };

    /// <summary>A node id Mermaid accepts: letters, digits and underscores, never the keyword <c>end</c>.</summary>
    internal static string Id(string id)
    {
        var b = new StringBuilder(id.Length + 2);
        foreach (var c in id)
            b.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
        var safe = b.ToString();
        return safe.Equals("end", StringComparison.OrdinalIgnoreCase) ? "n_" + safe : safe;
    }

    /// <summary>Text for inside a quoted Mermaid label: entity codes for the characters Mermaid would interpret.</summary>
    internal static string Escape(string text)
    {
        var b = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            switch (c)
            {
                case '#': b.Append("#35;"); break;
                case '"': b.Append("#quot;"); break;
                case '<': b.Append("#lt;"); break;
                case '>': b.Append("#gt;"); break;
                case '\n': b.Append("<br/>"); break;
                case '\r': break;
                default: b.Append(c); break;
            }
        }
        return b.ToString();
    }
}
