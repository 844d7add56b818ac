using DataflowVdo.Blocks.Stages;
using DataflowVdo.Config;

namespace DataflowVdo.Pipeline.Graph;

/// <summary>
/// The graph a configuration runs, built from the stage table (<see cref="StageTable"/>): one
/// node per zone (zones expanded) and per worker pool, each with the executor that runs it, and
/// one edge per pair of nodes that some transition of the table joins. The drivers count the
/// transitions they make by the same node ids, so what <c>dvdo graph</c> draws is what runs.
/// </summary>
public sealed class PipelineGraph
{
    private PipelineGraph(SchemeKind scheme, IReadOnlyList<GraphNode> nodes, IReadOnlyList<GraphEdge> edges)
    {
        Scheme = scheme;
        Nodes = nodes;
        Edges = edges;
    }

    /// <summary>The scheme (driver) that runs the graph.</summary>
    public SchemeKind Scheme { get; }

    /// <summary>Nodes, in graph order.</summary>
    public IReadOnlyList<GraphNode> Nodes { get; }

    /// <summary>Transitions between nodes (labels of the same pair joined).</summary>
    public IReadOnlyList<GraphEdge> Edges { get; }

    /// <summary>The executor that runs every zone under the inline scheme: the volume's lock, on the caller's thread.</summary>
    public const string VolumeLock = "volume lock";

    /// <summary>The executor of the steps a caller runs itself, outside any lock.</summary>
    public const string Caller = "caller";

    /// <summary>The zones a kind has under <paramref name="options"/> (the inline scheme runs one of each).</summary>
    public static int ZoneCount(VdoOptions options, ZoneKind kind)
    {
        var p = options.Pipeline;
        if (p.Scheme == SchemeKind.Inline)
            return 1;
        return kind switch
        {
            ZoneKind.Logical => p.LogicalZones,
            ZoneKind.HashZone => p.HashZones,
            ZoneKind.Physical => p.PhysicalZones,
            _ => 1,
        };
    }

    /// <summary>True when the scheme names requests on admission (no hash node).</summary>
    public static bool NamesOnSubmit(VdoOptions options) => options.Pipeline.Scheme == SchemeKind.MessagePassing && options.Pipeline.HashOnSubmit;

    /// <summary>
    /// Builds the graph the options configure (zones expanded; parallelism 0 resolved to the core
    /// count). Failure unwinding (dashed) is left out unless <paramref name="unwind"/>.
    /// </summary>
    public static PipelineGraph Build(VdoOptions options, int? cores = null, bool unwind = false)
    {
        var p = options.Pipeline;
        var n = cores ?? Environment.ProcessorCount;
        var scheme = p.Scheme;
        var onSubmit = NamesOnSubmit(options);
        var features = (p.Dedupe ? StageNeeds.Dedupe : StageNeeds.None) | (p.Compression ? StageNeeds.Compression : StageNeeds.None);
        bool Present(Stage s) => StageTable.Present(s, p.Dedupe, p.Compression) && !(onSubmit && s == Stage.Name);
        var kinds = new bool[ZoneKinds.Count];
        foreach (var row in StageTable.All)
        {
            if (Present(row.Stage))
                kinds[(int)row.Zone] = true;
        }

        var nodes = new List<GraphNode> { new("admit", "admission", GraphNodeKind.Admission, 0, 1, p.RequestPoolSize, 0, null, Caller) };
        for (var k = 0; k < ZoneKinds.Count; k++)
        {
            var kind = (ZoneKind)k;
            if (!kinds[k])
                continue;
            var step = Options(p.Steps, kind);
            for (var z = 0; z < ZoneCount(options, kind); z++)
            {
                var id = NodeId(kind, z);
                var label = kind.IsZoned() ? $"{Title(kind)} {z}" : Title(kind);
                var executor = Executor(p, kind, id);
                var inline = scheme == SchemeKind.Inline;
                var parallelism = inline ? (executor == Caller ? 0 : 1) : step.Parallelism == 0 ? n : step.Parallelism;
                nodes.Add(new GraphNode(id, label, kind.IsPool() ? GraphNodeKind.Pool : GraphNodeKind.Zone, z, parallelism,
                    inline ? 0 : step.BoundedCapacity, inline ? 0 : step.BatchSize, kind, executor));
            }
        }
        nodes.Add(new GraphNode("ack", "acknowledge", GraphNodeKind.Acknowledge, 0, 1, 0, 0, null, Caller));

        var edges = new Dictionary<(string, string), (List<string> Labels, TransitionKind Kind)>();
        var order = new List<(string, string)>();
        void Add(string from, string to, string label, TransitionKind kind)
        {
            if (from == to)
                return;
            if (!edges.TryGetValue((from, to), out var e))
            {
                e = ([], kind);
                order.Add((from, to));
            }
            if (!e.Labels.Contains(label))
                e.Labels.Add(label);
            edges[(from, to)] = (e.Labels, (TransitionKind)Math.Min((int)e.Kind, (int)kind));
        }
        IEnumerable<string> Targets(Stage s) => s == Stage.Done ? ["ack"] : Ids(options, StageTable.ZoneOf(s));
        foreach (var t in StageTable.Admissions)
        {
            if (t.To == Stage.Name && onSubmit)
            {
                foreach (var to in Targets(Stage.Lookup))
                    Add("admit", to, "write (named on submit)", t.Kind);
                continue;
            }
            foreach (var to in Targets(t.To))
                Add("admit", to, t.Label, t.Kind);
        }
        foreach (var row in StageTable.All)
        {
            if (!Present(row.Stage))
                continue;
            var froms = Ids(options, row.Zone).ToList();
            foreach (var t in row.Next)
            {
                if ((t.To != Stage.Done && !Present(t.To)) || !t.TakenBy(features) || (t.Kind == TransitionKind.Unwind && !unwind))
                    continue;
                var same = t.To != Stage.Done && StageTable.ZoneOf(t.To) == row.Zone;
                if (same && !t.CrossesZones)
                    continue; // the next step in the same zone: no edge
                foreach (var from in froms)
                {
                    foreach (var to in Targets(t.To))
                        Add(from, to, t.Label, t.KindFor(features));
                }
            }
            if (!unwind)
                continue;
            foreach (var u in StageTable.UnwindStages)
            {
                if (u != Stage.Done && !Present(u))
                    continue;
                foreach (var from in froms)
                {
                    foreach (var to in Targets(u))
                        Add(from, to, "failed: unwind", TransitionKind.Unwind);
                }
            }
        }
        // Not a request's step: once journal entries are durable, their reference changes go to the
        // physical zones that own the blocks, in journal order (the inbox; under Inline, applied at once).
        foreach (var to in Ids(options, ZoneKind.Physical))
            Add(NodeId(ZoneKind.Journal, 0), to, "durable reference changes (in journal order)", TransitionKind.Control);
        var list = order.Select(k => new GraphEdge(k.Item1, k.Item2, string.Join("; ", edges[k].Labels), edges[k].Kind)).ToList();
        return new PipelineGraph(scheme, nodes, list);
    }

    /// <summary>The node ids of a zone kind under <paramref name="options"/>.</summary>
    public static IEnumerable<string> Ids(VdoOptions options, ZoneKind kind) =>
        Enumerable.Range(0, ZoneCount(options, kind)).Select(z => NodeId(kind, z));

    /// <summary>The node id of zone <paramref name="zone"/> of a kind (<c>logical0</c>; a pool has no number: <c>compress</c>).</summary>
    public static string NodeId(ZoneKind kind, int zone) => kind.IsZoned() ? kind.NodeName() + zone : kind.NodeName();

    /// <summary>
    /// Which executor runs a node: under Inline, every zone shares the volume's lock and the
    /// stateless heavy steps run on the caller; under MessagePassing every node is its own
    /// Dataflow block (or the block of the executor <c>Pipeline:Executors</c> names for its kind); under StructureLocking every zone has its own lock (or the lock of the
    /// executor <c>Pipeline:Executors</c> names for its kind) and the worker steps run on the
    /// thread that carries the request.
    /// </summary>
    public static string Executor(PipelineOptions p, ZoneKind kind, string id) => p.Scheme switch
    {
        SchemeKind.Inline => kind is ZoneKind.Hash or ZoneKind.Compress or ZoneKind.Verify or ZoneKind.DataWrite or ZoneKind.Read ? Caller : VolumeLock,
        SchemeKind.StructureLocking => kind.IsPool() ? "request thread" : p.ExecutorOf(kind.ToString()) is { } name ? $"lock {name}" : $"lock {id}",
        _ => !kind.IsPool() && p.ExecutorOf(kind.ToString()) is { } name ? $"block {name}" : $"block {id}",
    };

    private static string Title(ZoneKind kind) => kind switch
    {
        ZoneKind.HashZone => "HashZone",
        ZoneKind.DataWrite => "DataWrite",
        _ => kind.ToString(),
    };

    private static StepOptions Options(StepsOptions s, ZoneKind kind) => kind switch
    {
        ZoneKind.Hash => s.Hash,
        ZoneKind.Logical => s.Logical,
        ZoneKind.HashZone => s.HashZone,
        ZoneKind.Physical => s.Physical,
        ZoneKind.Verify => s.Verify,
        ZoneKind.Compress => s.Compress,
        ZoneKind.Packer => s.Packer,
        ZoneKind.DataWrite => s.DataWrite,
        ZoneKind.Journal => s.Journal,
        _ => s.Read,
    };
}

/// <summary>What a node of the graph is.</summary>
public enum GraphNodeKind
{
    /// <summary>Where a request enters (the caller's thread, bounded by the request pool).</summary>
    Admission,

    /// <summary>A zone owning structures (one request at a time).</summary>
    Zone,

    /// <summary>A parallel worker pool (stateless steps).</summary>
    Pool,

    /// <summary>Where the caller is told the request is done.</summary>
    Acknowledge,
}

/// <summary>One node of the graph: a zone or pool, its settings and its executor.</summary>
/// <param name="Id">Stable identifier (e.g. <c>logical0</c>).</param>
/// <param name="Label">Name shown on the drawing.</param>
/// <param name="Kind">Zone, pool, admission or acknowledgement.</param>
/// <param name="Zone">Zone number within its kind.</param>
/// <param name="Parallelism">Messages processed at once (0: one per caller, outside any lock).</param>
/// <param name="BoundedCapacity">Queue bound, 0 = unbounded (for admission: the request pool size).</param>
/// <param name="BatchSize">Messages per task, 0 = unlimited.</param>
/// <param name="ZoneKind">The zone kind (null for admission and acknowledgement).</param>
/// <param name="Executor">What runs it: a Dataflow block, a lock, the caller.</param>
public sealed record GraphNode(string Id, string Label, GraphNodeKind Kind, int Zone, int Parallelism, int BoundedCapacity, int BatchSize,
    ZoneKind? ZoneKind = null, string Executor = PipelineGraph.Caller);

/// <summary>Transitions between two nodes.</summary>
/// <param name="From">Source node id.</param>
/// <param name="To">Target node id.</param>
/// <param name="Label">What the transitions mean (joined with "; ").</param>
/// <param name="Kind">Normal, rare or unwinding (the most ordinary of the pair's transitions).</param>
public sealed record GraphEdge(string From, string To, string Label, TransitionKind Kind = TransitionKind.Normal);
