using System.Text.Json;
using System.Text.Json.Serialization;
using DataflowVdo.Blocks.Stages;
using DataflowVdo.Pipeline.Graph;

namespace DataflowVdo.Cli.Graph;

/// <summary>
/// The graph as JSON (<c>dvdo graph --format json</c>): the scheme, each node with its zone kind,
/// executor and parallelism, each edge with its label; node ids are those of
/// <c>dvdo bench --json</c>'s "edges". The names are a stable interface.
/// </summary>
public static class JsonGraphWriter
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The JSON text, indented, with a final newline.</summary>
    public static string Render(PipelineGraph graph, IReadOnlyDictionary<string, string>? figures = null)
    {
        var doc = new JsonGraph
        {
            Scheme = graph.Scheme.ToString(),
            Nodes = [.. graph.Nodes.Select(n => new JsonGraphNode
            {
                Id = n.Id,
                Kind = n.ZoneKind?.NodeName() ?? (n.Kind == GraphNodeKind.Admission ? "admission" : "acknowledge"),
                Role = n.Kind.ToString().ToLowerInvariant(),
                Executor = n.Executor,
                Parallelism = n.Parallelism,
                BoundedCapacity = n.BoundedCapacity,
                BatchSize = n.BatchSize,
                Figures = figures is not null && figures.TryGetValue(n.Id, out var f) ? f : null,
            })],
            Edges = [.. graph.Edges.Select(e => new JsonGraphEdge { From = e.From, To = e.To, Label = e.Label, Kind = e.Kind.ToString().ToLowerInvariant() })],
        };
        return JsonSerializer.Serialize(doc, Indented) + "\n";
    }

    private sealed record JsonGraph
    {
        [JsonPropertyName("scheme")] public required string Scheme { get; init; }
        [JsonPropertyName("nodes")] public required IReadOnlyList<JsonGraphNode> Nodes { get; init; }
        [JsonPropertyName("edges")] public required IReadOnlyList<JsonGraphEdge> Edges { get; init; }
    }

    private sealed record JsonGraphNode
    {
        [JsonPropertyName("id")] public required string Id { get; init; }
        [JsonPropertyName("kind")] public required string Kind { get; init; }
        [JsonPropertyName("role")] public required string Role { get; init; }
        [JsonPropertyName("executor")] public required string Executor { get; init; }
        [JsonPropertyName("parallelism")] public int Parallelism { get; init; }
        [JsonPropertyName("boundedCapacity")] public int BoundedCapacity { get; init; }
        [JsonPropertyName("batchSize")] public int BatchSize { get; init; }
        [JsonPropertyName("figures")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Figures { get; init; }
    }

    private sealed record JsonGraphEdge
    {
        [JsonPropertyName("from")] public required string From { get; init; }
        [JsonPropertyName("to")] public required string To { get; init; }
        [JsonPropertyName("label")] public required string Label { get; init; }
        [JsonPropertyName("kind")] public required string Kind { get; init; }
    }
}
