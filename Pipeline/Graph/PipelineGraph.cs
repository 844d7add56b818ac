using DataflowVdo.Config;

namespace DataflowVdo.Pipeline.Graph;

/// <summary>
/// The message-passing graph as configured: one node per Dataflow block (zones expanded), one
/// edge per kind of handoff. The message-passing scheduler builds its blocks from the same
/// description, so what <c>dvdo graph</c> draws is what runs.
/// </summary>
public sealed class PipelineGraph
{
    private PipelineGraph(IReadOnlyList<GraphNode> nodes, IReadOnlyList<GraphEdge> edges)
    {
        Nodes = nodes;
        Edges = edges;
    }

    /// <summary>Blocks, in graph order.</summary>
    public IReadOnlyList<GraphNode> Nodes { get; }

    /// <summary>Handoffs between blocks.</summary>
    public IReadOnlyList<GraphEdge> Edges { get; }

    /// <summary>Builds the graph the options configure (zones expanded; parallelism 0 resolved to the core count).</summary>
    public static PipelineGraph Build(VdoOptions options, int? cores = null)
    {
        var p = options.Pipeline;
        var s = p.Steps;
        var n = cores ?? Environment.ProcessorCount;
        var nodes = new List<GraphNode> { new("admit", "admission", GraphNodeKind.Admission, 0, 1, p.RequestPoolSize, 0) };
        void Add(string id, string label, GraphNodeKind kind, StepOptions step, int zone = 0) =>
            nodes.Add(new GraphNode(id, label, kind, zone, step.Parallelism == 0 ? n : step.Parallelism, step.BoundedCapacity, step.BatchSize));
        if (!p.HashOnSubmit)
            Add("hash", "Hash", GraphNodeKind.Pool, s.Hash);
        for (var z = 0; z < p.LogicalZones; z++)
            Add($"logical{z}", $"Logical {z}", GraphNodeKind.Zone, s.Logical, z);
        if (p.Dedupe)
        {
            for (var z = 0; z < p.HashZones; z++)
                Add($"hashzone{z}", $"HashZone {z}", GraphNodeKind.Zone, s.HashZone, z);
        }
        for (var z = 0; z < p.PhysicalZones; z++)
            Add($"physical{z}", $"Physical {z}", GraphNodeKind.Zone, s.Physical, z);
        if (p.Dedupe)
            Add("verify", "Verify", GraphNodeKind.Pool, s.Verify);
        if (p.Compression)
        {
            Add("compress", "Compress", GraphNodeKind.Pool, s.Compress);
            Add("packer", "Packer", GraphNodeKind.Zone, s.Packer);
        }
        Add("datawrite", "DataWrite", GraphNodeKind.Pool, s.DataWrite);
        Add("journal", "Journal", GraphNodeKind.Zone, s.Journal);
        Add("read", "Read", GraphNodeKind.Pool, s.Read);
        nodes.Add(new GraphNode("ack", "acknowledge", GraphNodeKind.Acknowledge, 0, 1, 0, 0));

        var edges = new List<GraphEdge>();
        IEnumerable<string> Ids(string prefix) => nodes.Where(x => x.Id.StartsWith(prefix, StringComparison.Ordinal) && x.Kind == GraphNodeKind.Zone).Select(x => x.Id);
        void Edge(string from, string to, string label)
        {
            var froms = from.EndsWith('*') ? Ids(from[..^1]).ToList() : [from];
            var tos = to.EndsWith('*') ? Ids(to[..^1]).ToList() : [to];
            foreach (var f in froms)
            {
                foreach (var t in tos)
                    edges.Add(new GraphEdge(f, t, label));
            }
        }
        if (p.HashOnSubmit)
            Edge("admit", "logical*", "write (named on submit)");
        else
            Edge("admit", "hash", "write");
        Edge("admit", "logical*", "read, discard");
        if (!p.HashOnSubmit)
            Edge("hash", "logical*", "lookup");
        Edge("logical*", "physical*", p.Dedupe ? "allocate page" : "allocate");
        Edge("physical*", "journal", "page entry");
        Edge("journal", "logical*", "block-map update");
        Edge("journal", "physical*", "durable changes (in order)");
        Edge("logical*", "journal", "zero, discard");
        Edge("logical*", "ack", "done");
        Edge("logical*", "read", "read, decompress");
        Edge("read", "logical*", "unlock");
        if (p.Dedupe)
        {
            Edge("logical*", "hashzone*", "hash lock");
            Edge("hashzone*", "physical*", "pin candidate, allocate");
            Edge("physical*", "verify", "compare");
            Edge("verify", "physical*", "mismatch: allocate");
            Edge("verify", "hashzone*", "duplicate");
            Edge("hashzone*", "journal", "mapping");
            Edge("datawrite", "hashzone*", "index update");
            Edge("physical*", "hashzone*", "index update");
        }
        else
        {
            Edge("datawrite", "journal", "mapping");
        }
        if (p.Compression)
        {
            Edge("physical*", "compress", "compress");
            Edge("compress", "packer", "fragment");
            Edge("packer", "datawrite", "not worth packing");
            Edge("packer", "physical*", "packed: reserve, release");
            Edge("packer", p.Dedupe ? "hashzone*" : "journal", p.Dedupe ? "index update" : "mapping");
        }
        else
        {
            Edge("physical*", "datawrite", "write");
        }
        for (var z = 0; p.PhysicalZones > 1 && z < p.PhysicalZones; z++)
            edges.Add(new GraphEdge($"physical{z}", $"physical{(z + 1) % p.PhysicalZones}", "zone full: next zone"));
        return new PipelineGraph(nodes, edges);
    }
}

/// <summary>What a node of the graph is.</summary>
public enum GraphNodeKind
{
    /// <summary>Where a request enters (the caller's thread, bounded by the request pool).</summary>
    Admission,

    /// <summary>A single-consumer block owning structures.</summary>
    Zone,

    /// <summary>A parallel worker pool (stateless steps).</summary>
    Pool,

    /// <summary>Where the caller is told the request is done.</summary>
    Acknowledge,
}

/// <summary>One Dataflow block: its options as configured.</summary>
/// <param name="Id">Stable identifier (e.g. <c>logical0</c>).</param>
/// <param name="Label">Name shown on the drawing.</param>
/// <param name="Kind">Zone, pool, admission or acknowledgement.</param>
/// <param name="Zone">Zone number within its kind.</param>
/// <param name="Parallelism">Messages processed at once.</param>
/// <param name="BoundedCapacity">Queue bound, 0 = unbounded (for admission: the request pool size).</param>
/// <param name="BatchSize">Messages per task, 0 = unlimited.</param>
public sealed record GraphNode(string Id, string Label, GraphNodeKind Kind, int Zone, int Parallelism, int BoundedCapacity, int BatchSize);

/// <summary>One kind of handoff between two blocks.</summary>
/// <param name="From">Source node id.</param>
/// <param name="To">Target node id.</param>
/// <param name="Label">What travels.</param>
public sealed record GraphEdge(string From, string To, string Label);
