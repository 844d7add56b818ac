using DataflowVdo.Pipeline.Graph;

namespace DataflowVdo.Cli.Graph;

/// <summary>The text both drawings put on a node: its name and how its block runs.</summary>
internal static class GraphLabels
{
    /// <summary>"parallelism N, capacity unbounded|N, batch N|unlimited".</summary>
    public static string Settings(GraphNode node) =>
        node.Parallelism == 0 ? "parallelism: one per caller" :
        $"parallelism {node.Parallelism}, " +
        $"capacity {(node.BoundedCapacity == 0 ? "unbounded" : node.BoundedCapacity.ToString())}, " +
        $"batch {(node.BatchSize == 0 ? "unlimited" : node.BatchSize.ToString())}";

    /// <summary>The lines of a node's label: its name, then its settings.</summary>
    public static string[] Lines(GraphNode node, IReadOnlyDictionary<string, string>? figures = null) =>
        figures is not null && figures.TryGetValue(node.Id, out var live) ? [node.Label, Settings(node), live] : [node.Label, Settings(node)];
}
