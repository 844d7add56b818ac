using System.Text;
using DataflowVdo.Blocks.Stages;
using DataflowVdo.Pipeline.Graph;

namespace DataflowVdo.Cli.Graph;

/// <summary>
/// Draws a <see cref="PipelineGraph"/> as Graphviz dot (<c>dot -Tsvg</c>): left to right, zones
/// as boxes, worker pools as parallelograms, admission and acknowledgement as distinct shapes,
/// every node labelled with its settings and every edge with what travels along it.
/// </summary>
public static class DotWriter
{
    /// <summary>The drawing; each line of <paramref name="note"/> becomes a <c>//</c> comment at the top.</summary>
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
            foreach (var line in note.Split('\n'))
                writer.WriteLine($"// {line}");
        }
        writer.WriteLine("digraph dvdo {");
        writer.WriteLine("  rankdir=LR;");
        writer.WriteLine("  node [fontname=\"Helvetica\", fontsize=11];");
        writer.WriteLine("  edge [fontname=\"Helvetica\", fontsize=9];");
        var clusters = GraphClusters.Of(graph);
        for (var c = 0; c < clusters.Count; c++)
        {
            // Nodes sharing an executor (one lock, the caller's thread) are drawn inside one box.
            writer.WriteLine($"  subgraph \"cluster_{c}\" {{");
            writer.WriteLine($"    label=\"{Escape(clusters[c].Executor)}\";");
            writer.WriteLine("    style=dashed;");
            foreach (var node in clusters[c].Nodes)
                WriteNode(writer, node, figures, "    ");
            writer.WriteLine("  }");
        }
        foreach (var node in GraphClusters.Alone(graph, clusters))
            WriteNode(writer, node, figures, "  ");
        foreach (var edge in graph.Edges)
        {
            var style = edge.Kind == TransitionKind.Normal ? "" : edge.Kind == TransitionKind.Rare ? ", style=dotted" : edge.Kind == TransitionKind.Control ? ", style=bold, color=blue" : ", style=dashed, color=gray";
            writer.WriteLine($"  {Id(edge.From)} -> {Id(edge.To)} [label=\"{Escape(edge.Label)}\"{style}];");
        }
        writer.WriteLine("}");
    }

    private static void WriteNode(TextWriter writer, GraphNode node, IReadOnlyDictionary<string, string>? figures, string indent)
    {
        var label = string.Join("\\n", GraphLabels.Lines(node, figures).Select(Escape));
        writer.WriteLine($"{indent}{Id(node.Id)} [label=\"{label}\", {Shape(node.Kind)}];");
    }

    private static string Shape(GraphNodeKind kind) => kind switch
    {
        GraphNodeKind.Zone => "shape=box",
        GraphNodeKind.Pool => "shape=parallelogram",
        GraphNodeKind.Admission => "shape=invhouse",
        GraphNodeKind.Acknowledge => "shape=doubleoctagon",
        _ => "shape=ellipse",
    };

    private static string Id(string id) => $"\"{Escape(id)}\"";

    /// <summary>Text for inside a dot double-quoted string: backslashes, quotes and line breaks escaped.</summary>
    internal static string Escape(string text)
    {
        var b = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\': b.Append(@"\\"); break;
                case '"': b.Append("\\\""); break;
                case '\n': b.Append("\\n"); break;
                case '\r': break;
                default: b.Append(c); break;
            }
        }
        return b.ToString();
    }
}
