using DataflowVdo.Pipeline.Graph;

namespace DataflowVdo.Cli.Graph;

/// <summary>The nodes both drawings group together: those that share an executor (a lock, the caller).</summary>
internal static class GraphClusters
{
    /// <summary>
    /// Executors that run more than one node, in graph order, each with its nodes; every other
    /// node (its own Dataflow block or lock, admission, acknowledgement) is drawn alone.
    /// </summary>
    public static List<(string Executor, List<GraphNode> Nodes)> Of(PipelineGraph graph)
    {
        var shared = graph.Nodes.Where(n => n.ZoneKind is not null).GroupBy(n => n.Executor).Where(g => g.Count() > 1)
            .Select(g => (g.Key, g.ToList())).ToList();
        return shared;
    }

    /// <summary>The nodes drawn outside any cluster.</summary>
    public static IEnumerable<GraphNode> Alone(PipelineGraph graph, List<(string Executor, List<GraphNode> Nodes)> clusters)
    {
        var inside = clusters.SelectMany(c => c.Nodes).Select(n => n.Id).ToHashSet();
        return graph.Nodes.Where(n => !inside.Contains(n.Id));
    }
}
