namespace DataflowVdo.Pipeline.Graph;

/// <summary>
/// Zone-to-zone transitions a driver made, counted by edge (from node, to node) in one flat
/// array: no allocation per request. A row is written by the one executor running its node
/// (<see cref="Count"/>), or by many (worker pools, admission: <see cref="CountShared"/>).
/// Transitions within one node (the next step in the same zone) are not edges and are not counted.
/// </summary>
internal sealed class TransitionCounts
{
    private readonly string[] _ids;
    private readonly int _stride;
    private readonly long[] _counts;

    /// <param name="ids">The node ids, by node index (as <see cref="PipelineGraph"/> names them).</param>
    public TransitionCounts(string[] ids)
    {
        _ids = ids;
        // Rows a whole cache line (8 longs) apart beyond their used part: zones running on
        // different cores write different rows, and no two rows' counters share a line.
        _stride = ((ids.Length + 7) & ~7) + 8;
        _counts = new long[ids.Length * _stride];
    }

    /// <summary>Counts a transition from a node whose row only one thread writes at a time.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public void Count(int from, int to)
    {
        if (from == to)
            return;
        ref var c = ref _counts[(from * _stride) + to];
        Volatile.Write(ref c, c + 1);
    }

    /// <summary>Counts a transition from a node many threads run at once (a worker pool, admission).</summary>
    public void CountShared(int from, int to)
    {
        if (from != to)
            Interlocked.Increment(ref _counts[(from * _stride) + to]);
    }

    /// <summary>The counts so far (edges never taken are left out).</summary>
    public IReadOnlyList<PipelineTransition> Snapshot()
    {
        var list = new List<PipelineTransition>();
        for (var f = 0; f < _ids.Length; f++)
        {
            for (var t = 0; t < _ids.Length; t++)
            {
                var n = Volatile.Read(ref _counts[(f * _stride) + t]);
                if (n > 0)
                    list.Add(new PipelineTransition(_ids[f], _ids[t], n));
            }
        }
        return list;
    }
}

/// <summary>How many times requests went from one node of the graph to another.</summary>
/// <param name="From">Source node id (e.g. <c>logical0</c>, <c>admit</c>).</param>
/// <param name="To">Target node id (e.g. <c>physical1</c>, <c>ack</c>).</param>
/// <param name="Count">Transitions so far.</param>
public sealed record PipelineTransition(string From, string To, long Count);
