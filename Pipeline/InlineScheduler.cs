using System.Diagnostics.CodeAnalysis;
using System.Runtime.ExceptionServices;
using DataflowVdo.Blocks;
using DataflowVdo.Blocks.Stages;
using DataflowVdo.Config;
using DataflowVdo.Pipeline.Graph;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The inline scheme: every step of a request runs in order on the caller's thread, with no
/// handoff at all. It is the reference the other schemes are tested against and the
/// "no queuing" baseline they are measured against. Callers serialize (the volume's lock).
/// A compressible write waits in the packer after it is acknowledged, as in VDO; a read or a
/// write of its LBN is served from it (read) or first pushes its bin out (write: logical lock).
/// </summary>
internal sealed partial class InlineScheduler
{
    private readonly VolumeZones _z;
    private readonly DataVioPool _pool;
    private readonly Dictionary<long, DataVio> _pending = []; // LBN → write waiting in the packer (logical locks)
    private readonly List<PackerBin> _closed = new(4);
    private readonly byte[] _packed = GC.AllocateArray<byte>(VdoConstants.BlockSize, pinned: true);
    private readonly byte[] _readScratch = GC.AllocateArray<byte>(VdoConstants.BlockSize, pinned: true);
    private readonly DataVio[] _members = new DataVio[VdoConstants.MaxFragmentsPerPackedBlock];
    private readonly ushort[] _sizes = new ushort[VdoConstants.MaxFragmentsPerPackedBlock];
    private readonly bool _dedupe;
    private readonly bool _compression;
    private readonly bool _sync;

    // Transitions by edge: one node per zone kind (all under the volume's lock), then admission and acknowledgement.
    private const int AdmitNode = ZoneKinds.Count;
    private const int AckNode = ZoneKinds.Count + 1;
    private static readonly int[] StageNodes = [.. Enumerable.Range(0, StageTable.Count).Select(s => s == (int)Stage.Done ? AckNode : s == (int)Stage.Parked ? -1 : (int)StageTable.ZoneOf((Stage)s))];
    private readonly TransitionCounts _edges = new([.. Enumerable.Range(0, ZoneKinds.Count).Select(k => PipelineGraph.NodeId((ZoneKind)k, 0)), "admit", "ack"]);

    /// <summary>Zone-to-zone transitions so far, by the node ids of <c>PipelineGraph</c>.</summary>
    public IReadOnlyList<PipelineTransition> Transitions() => _edges.Snapshot();

    /// <summary>A transition this driver makes (caller holds the lock): checked against the stage table and counted by edge.</summary>
    private void Go(Stage from, Stage to)
    {
        StageTable.Check(from, to);
        if (to != Stage.Parked)
            _edges.Count(StageNodes[(int)from], StageNodes[(int)to]);
    }

    /// <summary>A request enters at <paramref name="stage"/> (caller holds the lock).</summary>
    private void Admit(Stage stage) => _edges.Count(AdmitNode, StageNodes[(int)stage]);

    public InlineScheduler(VolumeZones zones)
    {
        _z = zones;
        _pool = new DataVioPool(zones.Options.Pipeline.RequestPoolSize);
        _dedupe = zones.Options.Pipeline.Dedupe;
        _compression = zones.Options.Pipeline.Compression;
        _sync = zones.Options.Volume.WritePolicy == WritePolicy.Sync;
    }

    /// <summary>True once a write that was already acknowledged failed (its packed block could not be written): no flush may succeed.</summary>
    public bool LostAcknowledgedWrites { get; private set; }

    /// <summary>Acknowledged requests not yet journaled: waiting in the packer or on an agent.</summary>
    public int Pending => _pending.Count - WritingOutside;

    /// <summary>Requests whose callers are writing their data blocks outside the volume's lock.</summary>
    public int WritingOutside { get; private set; }

    /// <summary>True while a caller writes <paramref name="lbn"/>'s new data outside the lock (directly, or as the agent of a duplicate waiting on it).</summary>
    public bool IsWritingOutside(long lbn) => _pending.TryGetValue(lbn, out var v) && (v.WritingOutside || v.Agent?.WritingOutside == true);

    /// <summary>
    /// Runs a block write up to its data write (caller holds the lock). A block stored whole is
    /// added to <paramref name="started"/>: the caller writes its data outside the lock, from its
    /// own buffer (its provisional block is its own, and its LBN is locked meanwhile), and then
    /// passes the list to <see cref="Complete"/>; so is a block whose dedupe candidate is pinned,
    /// which the caller verifies outside the lock (<see cref="DataVio.VerifyingOutside"/>);
    /// everything else (zero block, duplicate in flight, packed fragment) is finished or parked here. Returns false, having done nothing, when the LBN is
    /// being written outside the lock by another caller or every request is taken by such
    /// writes: the caller completes what it started, lets the lock go and tries again.
    /// Block <paramref name="block"/> of <paramref name="request"/> is written; its name (and
    /// fragment) is at <paramref name="index"/> of <paramref name="prepared"/>, computed by the
    /// caller before it took the lock. Its data is copied into the request only when a step
    /// under the lock needs it (compress, pack, a hash-lock compare) or when it stays
    /// pending: a 1 MiB request stored whole copied 1 MiB under the lock for nothing.
    /// </summary>
    public bool TryStart(in RequestBlocks request, int block, PreparedBlocks prepared, int index, List<DataVio> started)
    {
        var lbn = request.Lbn + block;
        PrefetchIndex(prepared, index + DedupeIndex.PrefetchAhead, 1);
        if (IsWritingOutside(lbn) || DuplicatesAnotherCallersOutsideWrite(prepared, index, started))
            return false;
        ResolveLogicalConflict(lbn);
        if (!TryAcquire(VioOperation.Write, lbn, out var vio))
            return false;
        var data = request.Block(block);
        var copied = false; // whether vio.Data holds the block yet
        _z.Counters.WritesIn++;
        Admit(Stage.Name); // named (and maybe compressed) by the caller before it took the lock
        Go(Stage.Name, Stage.Lookup);
        var owned = true; // false once the request is handed to Finish, the packer, a hash lock or the caller
        try
        {
            vio.IsZero = prepared.IsZero(index);
            vio.Name = prepared.Name(index);
            if (vio.IsZero)
            {
                _z.Counters.ZeroBlocksWritten++;
                vio.NewMapping = BlockMapping.Zero;
                LookUp(vio);
                owned = false;
                Go(Stage.Lookup, Stage.Journal);
                Finish(vio);
                return true;
            }
            LookUp(vio);
            Go(Stage.Lookup, _dedupe ? Stage.HashLock : Stage.Allocate);
            if (_dedupe && TryJoin(vio, data, ref copied, in request))
            {
                Go(Stage.HashLock, Stage.Parked);
                // Identical data is already in flight: share its result when it lands (hash lock).
                owned = false;
                _pending[lbn] = vio;
                if (_sync && !vio.Agent!.WritingOutside)
                    ResolveLogicalConflict(lbn);
                return true;
            }
            if (TryAllocate(out var pbn, Stage.Allocate))
                vio.Allocation = pbn;
            var step = Stage.Allocate; // the stage the write is in: allocated, or its candidate not pinned
            if (_dedupe)
            {
                _z.HashZoneOf(vio.Name).Query(vio);
                step = vio.HasCandidate ? Stage.Pin : Stage.Allocate;
                Go(Stage.HashLock, step);
                if (vio.HasCandidate && TryPinCandidate(vio))
                {
                    Go(Stage.Pin, Stage.Verify);
                    // The caller reads the pinned candidate and compares it with its own buffer
                    // outside the lock (I4), beside its data writes, and shares it in Complete. A
                    // read under the lock stalled every other caller for each duplicate: a
                    // rewrite of data already in the pool ran at one 4 KiB read at a time.
                    vio.VerifyingOutside = true;
                    vio.WritingOutside = true;
                    WritingOutside++;
                    _pending[lbn] = vio;
                    started.Add(vio);
                    owned = false;
                    return true;
                }
            }
            if (vio.Allocation == 0)
                throw new OutOfSpaceException($"pool is full: no free physical block for LBN {lbn} ({_z.Geometry.DataBlocks} data blocks all in use); discard data to free space");
            if (_compression)
            {
                var size = prepared.FragmentSize(index);
                var tried = size != PreparedBlocks.Skipped;
                if (size >= 0)
                    vio.FragmentSize = size; // compressed by the caller, before the lock
                else if (size == PreparedBlocks.NotTried && _z.Probe.ShouldCompress())
                {
                    Take(vio, data, ref copied);
                    _z.Compress.Run(vio);
                }
                else
                    tried = false;
                var packs = vio.FragmentSize > 0 && _z.Packer.WorthPacking(vio.FragmentSize);
                if (tried)
                {
                    _z.Probe.Record(packs);
                    Go(step, Stage.Compress);
                    step = Stage.Compress;
                }
                if (packs)
                {
                    Go(Stage.Compress, Stage.Pack);
                    if (size >= 0)
                        prepared.Fragment(index).CopyTo(vio.Fragment);
                    Take(vio, data, ref copied); // pending in the packer: a read of its LBN is served from it
                    owned = false;
                    Pack(vio);
                    if (_sync)
                        ResolveLogicalConflict(lbn); // Sync: acknowledged only once durable
                    return true;
                }
            }
            // Stored whole: the caller writes the data outside the lock, from its own buffer
            // (vio.Data is not filled: a read of the LBN meanwhile sees the old mapping).
            // Duplicates in the same request wait on it (Async only: in Sync a waiter could not
            // be made durable before its caller returns), so a request full of repeated blocks
            // still stores one copy; other callers' duplicates wait for it to land
            // (DuplicatesAnotherCallersOutsideWrite).
            Go(step, Stage.WriteData);
            vio.WritingOutside = true;
            WritingOutside++;
            _pending[lbn] = vio;
            if (_dedupe && !_sync)
                _z.HashZoneOf(vio.Name).Lock(vio);
            started.Add(vio);
            owned = false;
            return true;
        }
        catch when (owned)
        {
            Abandon(vio);
            throw;
        }
    }

    /// <summary>
    /// Starts loading the index records of <paramref name="count"/> prepared blocks from
    /// <paramref name="from"/>: a caller does this for the first few when it takes the lock, and
    /// <see cref="TryStart"/> for the block <see cref="DedupeIndex.PrefetchAhead"/> on, so the
    /// index's cache misses overlap instead of each stalling the lock holder in turn.
    /// </summary>
    public void PrefetchIndex(PreparedBlocks prepared, int from, int count)
    {
        if (!_dedupe)
            return;
        for (var i = from; i < from + count && i < prepared.Count; i++)
        {
            if (!prepared.IsZero(i))
                PrefetchRecord(prepared.Name(i));
        }
    }

    /// <summary>Starts loading <paramref name="name"/>'s index record into the cache.</summary>
    private void PrefetchRecord(UInt128 name) => _z.HashZoneOf(name).Index.Prefetch(name);

    /// <summary>Copies the block into its request, once.</summary>
    private static void Take(DataVio vio, ReadOnlySpan<byte> data, ref bool copied)
    {
        if (copied)
            return;
        data.CopyTo(vio.Data);
        copied = true;
    }

    /// <summary>
    /// Joins an in-flight write of byte-identical data (I4), if there is one with room. An agent
    /// still being written outside the lock is one of this request's own blocks (another
    /// caller's makes this one wait: <see cref="DuplicatesAnotherCallersOutsideWrite"/>), and
    /// its data is in the request, not in the agent.
    /// </summary>
    private bool TryJoin(DataVio vio, ReadOnlySpan<byte> data, ref bool copied, in RequestBlocks request)
    {
        if (!_z.HashZoneOf(vio.Name).TryGetAgentWithRoom(vio.Name, out var agent))
            return false;
        if (agent.WritingOutside && !request.Holds(agent.Lbn))
            return false; // not this request's block (DuplicatesAnotherCallersOutsideWrite rules that out): never compare with the wrong data
        var agentData = agent.WritingOutside ? request.DataOf(agent.Lbn) : agent.Data;
        if (!agentData.SequenceEqual(data))
            return false;
        Take(vio, data, ref copied); // pending on its agent: a read of its LBN is served from it
        HashZone.Join(vio, agent);
        return true;
    }

    /// <summary>
    /// True when the block duplicates one that another caller is writing outside the lock. It
    /// must not wait on that write as a hash-lock waiter: it would be acknowledged before that
    /// caller journals the write, so a flush in between would not cover it (I5). Its caller
    /// waits instead; by then the index knows the block, and the duplicate shares it.
    /// </summary>
    private bool DuplicatesAnotherCallersOutsideWrite(PreparedBlocks prepared, int index, List<DataVio> started)
    {
        if (!_dedupe || _sync || prepared.IsZero(index))
            return false;
        var name = prepared.Name(index);
        return _z.HashZoneOf(name).TryGetAgent(name, out var agent) && agent.WritingOutside && !started.Contains(agent);
    }

    /// <summary>
    /// Finishes the requests <see cref="TryStart"/> handed out, once their caller has written
    /// their data and verified their candidates (<paramref name="written"/>) or failed to (the
    /// requests, and the duplicates waiting on them, are dropped; their LBNs keep their old
    /// mappings). <paramref name="request"/> holds their data. Caller holds the lock.
    /// </summary>
    public void Complete(List<DataVio> started, bool written, in RequestBlocks request)
    {
        OutOfSpaceException? outOfSpace = null;
        // Out of the "writing outside" state first, so that a failure below leaves no LBN locked for good.
        for (var i = 0; i < started.Count; i++)
        {
            started[i].WritingOutside = false;
            WritingOutside--;
            if (_dedupe && written && i < DedupeIndex.PrefetchAhead)
                PrefetchRecord(started[i].Name);
        }
        for (var i = 0; i < started.Count; i++)
        {
            var vio = started[i];
            if (_dedupe && written && i + DedupeIndex.PrefetchAhead < started.Count)
                PrefetchRecord(started[i + DedupeIndex.PrefetchAhead].Name);
            if (!written)
            {
                Drop(vio);
                continue;
            }
            if (vio.VerifyingOutside)
            {
                try
                {
                    FinishVerified(vio, request.DataOf(vio.Lbn));
                }
                catch (OutOfSpaceException e)
                {
                    outOfSpace ??= e; // the others still finish; the caller then fails
                }
                catch
                {
                    // Its data write failed (the volume goes read-only): the rest are dropped,
                    // so that none stays pending with data a read would be served from.
                    for (var j = i + 1; j < started.Count; j++)
                        Drop(started[j]);
                    throw;
                }
                continue;
            }
            Landed(vio);
        }
        if (outOfSpace is not null)
            ExceptionDispatchInfo.Throw(outOfSpace);
    }

    /// <summary>A request whose data block is written: its mapping, index entry and waiters follow.</summary>
    private void Landed(DataVio vio)
    {
        _z.Counters.DataBlocksWritten++;
        vio.NewMapping = BlockMapping.ForData(vio.Allocation, vio.Name);
        vio.Allocation = 0; // the mapping owns it now
        FinishGroup(vio, Stage.WriteData);
    }

    /// <summary>
    /// A write group's block is written and its owner's mapping set: the index learns the block,
    /// and the duplicates waiting on the owner's hash lock share it and finish with it.
    /// </summary>
    private void FinishGroup(DataVio owner, Stage from)
    {
        var next = Stage.Journal;
        if (_dedupe)
        {
            Go(from, Stage.IndexUpdate);
            _z.HashZoneOf(owner.Name).Update(owner);
            _z.HashZoneOf(owner.Name).Unlock(owner);
            from = Stage.IndexUpdate;
        }
        foreach (var w in owner.Waiters)
        {
            w.NewMapping = owner.NewMapping;
            _z.Counters.DedupeAdviceValid++;
            Go(from, next);
            Finish(w);
        }
        Go(from, next);
        Finish(owner);
    }

    /// <summary>Drops a request whose data write failed, and the duplicates waiting on it.</summary>
    private void Drop(DataVio vio)
    {
        if (_dedupe)
            _z.HashZoneOf(vio.Name).Unlock(vio);
        foreach (var w in vio.Waiters)
        {
            Unpending(w);
            Abandon(w);
        }
        Unpending(vio);
        Abandon(vio);
    }

    private void Unpending(DataVio vio)
    {
        if (_pending.TryGetValue(vio.Lbn, out var p) && ReferenceEquals(p, vio))
            _pending.Remove(vio.Lbn);
    }

    /// <summary>
    /// Unmaps <paramref name="lbn"/> (caller holds the lock). Returns false, having done nothing,
    /// when a caller is writing it outside the lock (or holds every request doing so): the caller
    /// lets the lock go and tries again.
    /// </summary>
    public bool TryDiscard(long lbn)
    {
        if (IsWritingOutside(lbn))
            return false;
        ResolveLogicalConflict(lbn);
        if (_z.BlockMap.NeedsPage(lbn))
        {
            _z.Counters.DiscardsIn++;
            Admit(Stage.Lookup);
            Go(Stage.Lookup, Stage.Update);
            Go(Stage.Update, Stage.Done);
            return true; // never written: nothing to unmap
        }
        if (!TryAcquire(VioOperation.Discard, lbn, out var vio))
            return false;
        _z.Counters.DiscardsIn++;
        Admit(Stage.Lookup);
        try
        {
            vio.OldMapping = _z.BlockMap.Get(lbn);
            vio.NewMapping = BlockMapping.Unmapped;
        }
        catch
        {
            Abandon(vio);
            throw;
        }
        Go(Stage.Lookup, Stage.Journal);
        Finish(vio);
        return true;
    }

    public void Read(long lbn, Span<byte> destination)
    {
        _z.Counters.ReadsIn++;
        Admit(Stage.ReadBlock);
        // A write pending in the packer or on an agent is served from its request. One whose
        // caller is writing its data outside the lock is not acknowledged yet, and its data is
        // in its caller's buffer, not in its request: the read sees the old mapping.
        if (_pending.TryGetValue(lbn, out var inFlight) && !inFlight.WritingOutside)
        {
            inFlight.Data.CopyTo(destination);
            Go(Stage.ReadBlock, Stage.Done);
            return;
        }
        var m = _z.BlockMap.Get(lbn);
        if (!m.IsMapped || m.IsZero)
        {
            destination[..VdoConstants.BlockSize].Clear();
            Go(Stage.ReadBlock, Stage.Done);
            return;
        }
        Go(Stage.ReadBlock, Stage.ReadData);
        if (!m.IsCompressed)
            _z.Device.Read(m.Pbn, destination[..VdoConstants.BlockSize]);
        else
        {
            _z.Device.Read(m.Pbn, _readScratch);
            PackedBlock.Decompress(_readScratch, m.Slot, destination, m.Pbn);
        }
        _z.ReadCheck.Verify(lbn, m, destination);
        Go(Stage.ReadData, Stage.ReadDone);
        Go(Stage.ReadDone, Stage.Done);
    }

    public void Flush()
    {
        _z.Counters.FlushesIn++;
        _z.Packer.CloseAll(_closed);
        WriteClosedBins();
        _z.JournalZone.Commit();
    }

    /// <summary>Takes a request from the pool; false when every request is held by a caller writing outside the lock.</summary>
    private bool TryAcquire(VioOperation op, long lbn, [NotNullWhen(true)] out DataVio? vio)
    {
        while (!_pool.TryAcquire(out vio))
        {
            // Every request is waiting in the packer: push out the fullest bin (back-pressure, I8).
            if (!_z.Packer.CloseFullest(_closed))
            {
                if (WritingOutside > 0)
                    return false;
                throw new InvalidOperationException("request pool exhausted with nothing in flight (bug)");
            }
            WriteClosedBins();
        }
        vio.Reset(op, lbn);
        return true;
    }

    private void ResolveLogicalConflict(long lbn)
    {
        if (!_pending.TryGetValue(lbn, out var inFlight))
            return;
        if (inFlight.WritingOutside || inFlight.Agent?.WritingOutside == true)
            throw new InvalidOperationException($"LBN {lbn} is being written outside the lock (bug: the caller must wait for it)");
        // Logical lock: the earlier write to this LBN must land before this one is looked up.
        _closed.Add(_z.Packer.CloseBinOf(inFlight.Agent ?? inFlight));
        WriteClosedBins();
    }

    /// <summary>Block-map lookup; allocates the leaf page on first use (thin provisioning).</summary>
    private void LookUp(DataVio vio)
    {
        var lbn = vio.Lbn;
        vio.OldMapping = _z.BlockMap.Get(lbn);
        if (!_z.BlockMap.NeedsPage(lbn))
            return;
        Go(Stage.Lookup, Stage.AllocatePage);
        if (!TryAllocate(out var pagePbn, Stage.AllocatePage))
            throw new OutOfSpaceException($"pool is full: no free physical block for the block-map page of LBN {lbn}; discard data to free space");
        var page = lbn / Geometry.EntriesPerPage;
        var point = _z.JournalZone.Append(new JournalEntry(JournalEntryKind.BlockMapPage, page, new BlockMapping(pagePbn, MappingState.Uncompressed), BlockMapping.Unmapped));
        _z.JournalZone.Defer(point, SlabJournalOperation.BlockMapPage, pagePbn);
        _z.BlockMap.InstallPage(page, pagePbn, point);
        Go(Stage.AllocatePage, Stage.JournalPage);
        Go(Stage.JournalPage, Stage.InstallPage);
        Go(Stage.InstallPage, Stage.Lookup);
    }

    /// <summary>
    /// Allocates a block; when the pool looks full, first frees what is only held back: blocks
    /// provisionally held by writes waiting in the packer (all but one per bin) and blocks whose
    /// decrement waits for the journal.
    /// </summary>
    private bool TryAllocate(out long pbn, Stage stage)
    {
        if (_z.Depot.TryAllocate(out pbn))
            return true;
        for (var retry = 0; retry < SpacePolicy.Retries; retry++)
        {
            Go(stage, Stage.SpaceRetry);
            _z.Packer.CloseAll(_closed);
            WriteClosedBins();
            Go(Stage.SpaceRetry, Stage.CommitRetry);
            _z.JournalZone.Commit();
            stage = stage == Stage.AllocatePage ? Stage.AllocatePage : Stage.Allocate;
            Go(Stage.CommitRetry, stage);
            if (_z.Depot.TryAllocate(out pbn))
                return true;
        }
        return false;
    }

    /// <summary>
    /// Checks a dedupe hint and pins its block: the block must be live and below 254 references.
    /// Its caller then compares it byte for byte (I4) outside the lock; the pin keeps it from
    /// being freed and reused meanwhile.
    /// </summary>
    private bool TryPinCandidate(DataVio vio)
    {
        var c = vio.Candidate;
        if (!c.HasPhysicalBlock || !_z.Geometry.IsDataBlock(c.Pbn))
            return Stale(vio);
        switch (_z.Depot.TryPin(c.Pbn))
        {
            case PinResult.Free:
                return Stale(vio);
            case PinResult.Busy:
                return false;
            case PinResult.Full when c != vio.OldMapping:
                _z.Counters.DedupeRollovers++; // write a new copy; the index then points at it
                return false;
            case PinResult.Full:
                return true; // rewriting the same mapping: no new reference; the LBN's own keeps the block
            default:
                vio.Pinned = true;
                return true;
        }
    }

    /// <summary>
    /// Finishes a request whose caller verified its candidate outside the lock: it shares the
    /// block, or, when the bytes differed (a stale hint, a hash collision), is stored anew here,
    /// under the lock, since its caller's outside work is done: packed when it compresses,
    /// otherwise written whole. Rare: a hint is dropped once it fails.
    /// </summary>
    private void FinishVerified(DataVio vio, ReadOnlySpan<byte> data)
    {
        if (vio.Verified)
        {
            _z.Counters.DedupeAdviceValid++;
            vio.NewMapping = vio.Candidate;
            ReleaseAllocation(vio);
            Go(Stage.Verify, Stage.Journal);
            Finish(vio);
            return;
        }
        Go(Stage.Verify, Stage.UnpinAllocate);
        Unpin(vio);
        Stale(vio);
        if (vio.Allocation == 0)
        {
            if (!TryAllocate(out var pbn, Stage.UnpinAllocate))
            {
                Unpending(vio);
                Abandon(vio);
                throw new OutOfSpaceException($"pool is full: no free physical block for LBN {vio.Lbn} ({_z.Geometry.DataBlocks} data blocks all in use); discard data to free space");
            }
            vio.Allocation = pbn;
        }
        var copied = false;
        var step = Stage.UnpinAllocate;
        if (_compression && _z.Probe.ShouldCompress())
        {
            Take(vio, data, ref copied);
            Go(step, Stage.Compress);
            step = Stage.Compress;
            _z.Compress.Run(vio);
            var packs = vio.FragmentSize > 0 && _z.Packer.WorthPacking(vio.FragmentSize);
            _z.Probe.Record(packs);
            if (packs)
            {
                Go(Stage.Compress, Stage.Pack);
                Pack(vio);
                if (_sync)
                    ResolveLogicalConflict(vio.Lbn);
                return;
            }
        }
        Go(step, Stage.WriteData);
        try
        {
            _z.Device.Write(vio.Allocation, data);
        }
        catch
        {
            Unpending(vio);
            Abandon(vio); // its LBN keeps its old mapping
            throw;
        }
        Landed(vio);
    }

    private void Unpin(DataVio vio)
    {
        if (!vio.Pinned)
            return;
        _z.Depot.Release(vio.Candidate.Pbn, SlabDepot.GroupReservation);
        vio.Pinned = false;
    }

    private bool Stale(DataVio vio)
    {
        _z.Counters.DedupeAdviceStale++;
        _z.HashZoneOf(vio.Name).Forget(vio);
        return false;
    }

    private void Pack(DataVio vio)
    {
        if (_dedupe)
            _z.HashZoneOf(vio.Name).Lock(vio);
        _pending[vio.Lbn] = vio;
        _z.Packer.Add(vio, _closed);
        WriteClosedBins();
    }

    private void WriteClosedBins()
    {
        for (var b = 0; b < _closed.Count; b++)
            WriteBin(_closed[b]);
        _closed.Clear();
    }

    /// <summary>Writes a bin as one packed block at its first member's allocation, then finishes every member.</summary>
    private void WriteBin(PackerBin bin)
    {
        var fragments = bin.Fragments;
        var pbn = fragments[0].Allocation;
        bin.Assemble(_packed, _sizes);
        // Finishing releases requests to the pool: copy the member list before recycling the bin.
        var count = fragments.Length;
        fragments.CopyTo(_members);
        _z.Packer.Recycle(bin);
        try
        {
            _z.Device.Write(pbn, _packed);
        }
        catch
        {
            // Every member fails, as in the zoned schemes: its LBN keeps its old mapping, its block
            // and locks are given back; members were acknowledged (Async), so no flush may succeed.
            for (var i = 0; i < count; i++)
            {
                var f = _members[i];
                _members[i] = null!;
                f.Bin = null;
                Drop(f);
            }
            if (!_sync)
                LostAcknowledgedWrites = true;
            throw; // the volume goes read-only (Volume.Failed)
        }
        _z.Counters.CompressedBlocksWritten++;
        for (var i = 0; i < count; i++)
        {
            var f = _members[i];
            _members[i] = null!;
            if (i > 0)
            {
                _z.Depot.ReleaseProvisional(f.Allocation);
                _z.Depot.Reserve(pbn); // this fragment's group may map to the packed block
            }
            f.Allocation = 0;
            f.Bin = null;
            f.NewMapping = BlockMapping.Compressed(pbn, i, f.Name);
            _z.Counters.CompressedFragmentsWritten++;
            _z.Counters.CompressedFragmentBytes += f.FragmentSize;
            // The first fragment reserves the packed block for the others (each gave back its own block above).
            if (i == 0 && count > 1)
                Go(Stage.Pack, Stage.ReservePacked);
            FinishGroup(f, count > 1 ? Stage.ReservePacked : Stage.Pack);
        }
    }

    /// <summary>Journal, reference counts, block map, acknowledge: the common tail of every write.</summary>
    private void Finish(DataVio vio)
    {
        var lbn = vio.Lbn;
        if (_pending.TryGetValue(lbn, out var p) && ReferenceEquals(p, vio))
            _pending.Remove(lbn);
        var old = vio.OldMapping;
        var now = vio.NewMapping;
        if (old == now && vio.Pinned)
        {
            Go(Stage.Journal, Stage.ReleaseUnused); // unchanged: its pin is given back (Unpin below)
            Go(Stage.ReleaseUnused, Stage.Update);
        }
        else
        {
            Go(Stage.Journal, Stage.Update);
        }
        Go(Stage.Update, Stage.Done);
        if (old != now)
        {
            var point = _z.JournalZone.Append(new JournalEntry(JournalEntryKind.DataMapping, lbn, now, old));
            vio.JournalPoint = point;
            if (now.HasPhysicalBlock)
            {
                // Takes effect once durable; a pin keeps a shared block from being freed meanwhile.
                // The group is complete: its owner gives back the reservations nobody will use.
                if (vio.Agent is null)
                    _z.Depot.Seal(now.Pbn, SlabDepot.GroupReservation - 1 - vio.Waiters.Count);
                _z.JournalZone.Defer(point, SlabJournalOperation.Increment, now.Pbn);
                vio.Pinned = false;
            }
            if (old.HasPhysicalBlock)
                _z.JournalZone.Defer(point, SlabJournalOperation.Decrement, old.Pbn); // after its increment (I3)
            _z.BlockMap.Set(lbn, now, point);
            _z.AddLogicalBlocksUsed((now.IsMapped ? 1 : 0) - (old.IsMapped ? 1 : 0));
            if (_sync)
                _z.JournalZone.Commit();
            else
                _z.JournalZone.ApplyDurable();
        }
        Unpin(vio); // an unchanged mapping needs no reference
        _pool.Release(vio);
        _z.WriteFullSlabJournals();
        if (_z.Journal.NeedsCheckpoint)
            _z.Checkpoint(clean: false);
    }

    /// <summary>Undoes what a failed request holds (its provisional block) and returns it to the pool.</summary>
    private void Abandon(DataVio vio)
    {
        Unpin(vio);
        ReleaseAllocation(vio);
        _pool.Release(vio);
    }

    private void ReleaseAllocation(DataVio vio)
    {
        if (vio.Allocation == 0)
            return;
        _z.Depot.ReleaseProvisional(vio.Allocation);
        vio.Allocation = 0;
    }
}
