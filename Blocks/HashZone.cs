using System.Diagnostics.CodeAnalysis;
using DataflowVdo.Storage;

namespace DataflowVdo.Blocks;

/// <summary>
/// Hash zone: the hash locks of in-flight writes and the dedupe-index queries and updates for
/// a slice of the block-name space. A write whose name matches an in-flight write (the agent)
/// waits on it and shares its result, so identical concurrent writes dedupe against each other.
/// One owner at a time.
/// </summary>
public sealed class HashZone(DedupeIndex index)
{
    /// <summary>Most writes that may wait on one agent: the agent's group reserves 1 + 16 references on its block (14 × 17 = 238 for a packed block).</summary>
    public const int MaxWaiters = SlabDepot.GroupReservation - 1;

    private readonly Dictionary<UInt128, DataVio> _locks = [];

    /// <summary>The index behind this zone.</summary>
    public DedupeIndex Index => index;

    /// <summary>
    /// Joins an in-flight write with the same name and byte-identical data (the name alone proves
    /// nothing, I4), if there is one with room; returns true when joined.
    /// </summary>
    public bool TryJoin(DataVio vio)
    {
        if (!TryGetAgentWithRoom(vio.Name, out var agent) || !agent.Data.AsSpan().SequenceEqual(vio.Data))
            return false;
        Join(vio, agent);
        return true;
    }

    /// <summary>
    /// The in-flight write holding <paramref name="name"/>'s lock, if it can take another waiter.
    /// The caller compares the data itself (when the agent's data is not in its request yet),
    /// then calls <see cref="Join"/>.
    /// </summary>
    public bool TryGetAgentWithRoom(UInt128 name, [NotNullWhen(true)] out DataVio? agent) =>
        _locks.TryGetValue(name, out agent) && agent.Waiters.Count < MaxWaiters;

    /// <summary>Makes <paramref name="vio"/> wait on <paramref name="agent"/>, whose data is byte-identical (I4: the caller compared them).</summary>
    public static void Join(DataVio vio, DataVio agent)
    {
        agent.Waiters.Add(vio);
        vio.Agent = agent;
    }

    /// <summary>The in-flight write holding <paramref name="name"/>'s lock, if any.</summary>
    public bool TryGetAgent(UInt128 name, [NotNullWhen(true)] out DataVio? agent) => _locks.TryGetValue(name, out agent);

    /// <summary>Makes <paramref name="agent"/> the holder of its name's lock unless another write holds it; true when it does now.</summary>
    public bool TryLock(DataVio agent) => _locks.TryAdd(agent.Name, agent);

    /// <summary>Makes <paramref name="agent"/> the holder of its name's lock while its write is in flight.</summary>
    public void Lock(DataVio agent) => _locks.TryAdd(agent.Name, agent);

    /// <summary>Releases the lock held by <paramref name="agent"/>.</summary>
    public void Unlock(DataVio agent)
    {
        if (_locks.TryGetValue(agent.Name, out var holder) && ReferenceEquals(holder, agent))
            _locks.Remove(agent.Name);
    }

    /// <summary>Index query: fills the request's candidate.</summary>
    public void Query(DataVio vio)
    {
        vio.HasCandidate = index.TryGet(vio.Name, out var mapping);
        vio.Candidate = mapping;
    }

    /// <summary>Index update: the name now lives at the request's new mapping.</summary>
    public void Update(DataVio vio) => index.Put(vio.Name, vio.NewMapping);

    /// <summary>Drops a hint that failed verification.</summary>
    public void Forget(DataVio vio) => index.Forget(vio.Name, vio.Candidate);
}
