using DataflowVdo.Blocks;
using DataflowVdo.Blocks.Stages;
using DataflowVdo.Storage;
using Zone = DataflowVdo.Blocks.Stages.ZoneKind;

namespace DataflowVdo.Pipeline;

/// <summary>The steps of a request, each run by the one block that owns what it touches.</summary>
internal sealed partial class ZonedScheduler
{
    private static readonly Zone[] StageZones = [.. Enumerable.Range(0, (int)Stage.Parked).Select(s => StageTable.ZoneOf((Stage)s))];

    private static Zone ZoneOf(Stage s) => (uint)s < (uint)StageZones.Length ? StageZones[(int)s] : throw new InvalidOperationException($"stage {s} has no zone");

    /// <summary>The physical zone a physical stage runs in: the one owning the block it touches.</summary>
    private int PhysicalZoneOf(DataVio vio, Stage stage) => stage switch
    {
        Stage.Pin or Stage.UnpinAllocate or Stage.AbortPin => _z.Depot.ZoneOf(vio.Candidate.Pbn),
        Stage.ReleaseMember or Stage.AbortAllocation => _z.Depot.ZoneOf(vio.Allocation),
        Stage.ReservePacked or Stage.ReleaseUnused => _z.Depot.ZoneOf(vio.NewMapping.Pbn),
        _ => vio.AllocationZone, // Allocate, AllocatePage
    };

    // Logical zone state, one per logical zone (each touched only by its zone).
    private readonly LogicalZoneState[] _logical;
    private readonly long[] _usedDelta;        // per logical zone: change of mapped LBNs since this scheduler started
    private readonly long[] _usedAtCheckpoint; // per logical zone: _usedDelta when its checkpoint part ran
    private readonly long _usedBase;
    private long[] _rootImage;                 // the block-map root as each logical zone's checkpoint part saw it

    private sealed class LogicalZoneState
    {
        public readonly Dictionary<long, DataVio> Locks = [];
        public readonly HashSet<long> PagesInProgress = [];
        public readonly List<DataVio> PageParked = [];
        public int NextAllocationZone;
    }

    // Journal zone state.
    private readonly Queue<DataVio> _journalParked = new();
    private readonly List<DataVio> _durableParked = [];

    // Packer state.
    private readonly List<PackerBin> _closed = new(4);
    private readonly byte[] _packed = GC.AllocateArray<byte>(VdoConstants.BlockSize, pinned: true);
    private readonly DataVio[] _members = new DataVio[VdoConstants.MaxFragmentsPerPackedBlock];
    private readonly ushort[] _sizes = new ushort[VdoConstants.MaxFragmentsPerPackedBlock];

    private Stage Step(DataVio vio, Stage stage)
    {
        switch (stage)
        {
            case Stage.Name:
                Name(vio);
                return Stage.Lookup;
            case Stage.Lookup:
                return Lookup(vio);
            case Stage.InstallPage:
                return InstallPage(vio);
            case Stage.Update:
                return Update(vio);
            case Stage.ReadBlock:
                return ReadBlock(vio);
            case Stage.ReadData:
                ReadData(vio);
                return Stage.ReadDone;
            case Stage.ReadDone:
                ReleaseLogicalLock(vio);
                return Stage.Done;
            case Stage.AbortLogical:
                _driver.Applied(vio);
                AbandonPage(vio);
                ReleaseLogicalLock(vio);
                return Stage.Done;
            case Stage.HashLock:
                return HashLock(vio);
            case Stage.IndexUpdate:
                return IndexUpdate(vio);
            case Stage.AbortHash:
                AbortHash(vio);
                return vio.HoldsLogicalLock ? Stage.AbortLogical : Stage.Done;
            case Stage.AbortPin:
                // A failed request gives its pin back in the zone that owns the block (not wherever it failed).
                try
                {
                    ReleasePin(vio);
                }
                catch (InvalidOperationException)
                {
                    vio.Pinned = false; // best effort: the volume is failing
                }
                return vio.HoldsHashLock || vio.HintStale ? Stage.AbortHash : vio.HoldsLogicalLock ? Stage.AbortLogical : Stage.Done;
            case Stage.AbortAllocation:
                _z.Depot.ReleaseProvisional(vio.Allocation); // its data write failed: the block was never used
                vio.Allocation = 0;
                return vio.HoldsHashLock || vio.HintStale ? Stage.AbortHash : vio.HoldsLogicalLock ? Stage.AbortLogical : Stage.Done;
            case Stage.AllocatePage:
                if (_z.Depot.TryAllocate(vio.AllocationZone, out var page))
                {
                    vio.ZonesTried = 0;
                    vio.Allocation = page;
                    return Stage.JournalPage;
                }
                if (NextAllocationZone(vio))
                    return Stage.AllocatePage;
                if (vio.SpaceRetries++ < SpacePolicy.Retries)
                    return Stage.SpaceRetry; // free what the packer and the journal hold back, then try again
                throw new OutOfSpaceException($"pool is full: no free physical block for the block-map page of LBN {vio.Lbn}; discard data to free space");
            case Stage.Pin:
                return Pin(vio);
            case Stage.UnpinAllocate:
                ReleasePin(vio);
                Interlocked.Increment(ref _z.Counters.DedupeAdviceStale);
                vio.HintStale = true; // the hash zone drops it (IndexUpdate or AbortHash)
                return AllocateIfHere(vio, _z.Depot.ZoneOf(vio.Candidate.Pbn));
            case Stage.Allocate:
                return Allocate(vio);
            case Stage.ReleaseMember:
                _z.Depot.ReleaseProvisional(vio.Allocation); // its fragment lives in the packed block instead
                vio.Allocation = 0;
                return AfterDataWritten(vio);
            case Stage.ReservePacked:
                return ReservePacked(vio);
            case Stage.ReleaseUnused:
                _z.Depot.Release(vio.NewMapping.Pbn, vio.SpaceRetries);
                return Stage.Update;
            case Stage.Verify:
                return Verified(vio, _z.Verify.Run(vio));
            case Stage.Compress:
                _z.Compress.Run(vio);
                if (vio.FragmentSize > 0)
                    return Stage.Pack;
                _z.Probe.Record(packs: false);
                return Stage.WriteData;
            case Stage.Pack:
                return Pack(vio);
            case Stage.SpaceRetry:
                _z.Packer.CloseAll(_closed);
                WriteClosedBins();
                return Stage.CommitRetry;
            case Stage.WriteData:
                _z.Device.Write(vio.Allocation, vio.Data);
                return DataWritten(vio);
            case Stage.JournalPage:
                return JournalPage(vio);
            case Stage.Journal:
                return Journal(vio);
            case Stage.CommitRetry:
                _z.JournalZone.Commit();
                return vio.AllocatingPage ? Stage.AllocatePage : Stage.Allocate;
            default:
                throw new InvalidOperationException($"request in stage {stage} cannot run");
        }
    }

    /// <summary>A request's candidate was compared with its data (by its <see cref="Stage.Verify"/> step, or its batch's vectored read).</summary>
    private Stage Verified(DataVio vio, bool matches)
    {
        if (!matches)
            return Stage.UnpinAllocate;
        Interlocked.Increment(ref _z.Counters.DedupeAdviceValid);
        vio.NewMapping = vio.Candidate;
        return vio.HoldsHashLock ? Stage.IndexUpdate : Stage.Journal;
    }

    /// <summary>A request's data block is written (by its <see cref="Stage.WriteData"/> step, or its batch's vectored write): the mapping owns the block now.</summary>
    private Stage DataWritten(DataVio vio)
    {
        Interlocked.Increment(ref _z.Counters.DataBlocksWritten);
        vio.WroteData = true;
        vio.NewMapping = BlockMapping.ForData(vio.Allocation, vio.Name);
        vio.Allocation = 0; // the mapping owns it now
        var next = AfterDataWritten(vio);
        // The Name step prefetched the request's index record, but a large request's data writes
        // (its 256 KiB windows, staged and written) have evicted it since: 0.4 us per block of a
        // 1 MiB FUSE write went to the cache misses of IndexUpdate's Set (perf/README.md).
        if (next == Stage.IndexUpdate && _dedupe)
            _z.HashZoneOf(vio.Name).Index.Prefetch(vio.Name);
        return next;
    }

    /// <summary>The hash zone next when the request holds its hash lock or has a stale hint to drop; else the journal.</summary>
    private static Stage AfterDataWritten(DataVio vio) => vio.HoldsHashLock || vio.HintStale ? Stage.IndexUpdate : Stage.Journal;

    /// <summary>
    /// The packed block's first fragment reserves the block for the others (a group's 1 + 16 each),
    /// then sends them on: no reference change of theirs can reach the block's zone before their
    /// reservations exist, and the block cannot be freed under them, in either scheme.
    /// </summary>
    private Stage ReservePacked(DataVio vio)
    {
        var pbn = vio.NewMapping.Pbn;
        var here = _z.Depot.ZoneOf(pbn);
        var others = vio.CoFragments;
        _z.Depot.Reserve(pbn, others.Count);
        var slot = SlotOf(Zone.Physical, here);
        for (var i = 0; i < others.Count; i++)
        {
            var f = others[i];
            if (_z.Depot.ZoneOf(f.Allocation) == here)
            {
                _z.Depot.ReleaseProvisional(f.Allocation); // its fragment lives in the packed block instead
                f.Allocation = 0;
                Dispatch(f, Stage.ReservePacked, slot, AfterDataWritten(f));
            }
            else
            {
                Dispatch(f, Stage.ReservePacked, slot, Stage.ReleaseMember);
            }
        }
        others.Clear();
        return AfterDataWritten(vio);
    }

    /// <summary>
    /// Names the block (outside any zone) and starts loading its index record into the cache:
    /// the hash-lock step, under the zone's lock a little later, then finds it there instead of
    /// stalling on memory with the lock held (the index is larger than the cache; the inline
    /// path before the one write path prefetched too, and without it the hash-lock step cost
    /// 4x its old lookup through a mount).
    /// </summary>
    private void Name(DataVio vio)
    {
        _z.Hash.Run(vio);
        if (_dedupe && !vio.IsZero)
            _z.HashZoneOf(vio.Name).Index.Prefetch(vio.Name);
    }

    // ---- Logical zone -------------------------------------------------------------------

    private Stage Lookup(DataVio vio)
    {
        var lbn = vio.Lbn;
        var zone = _logical[_z.BlockMap.ZoneOfLbn(lbn)];
        if (!vio.HoldsLogicalLock)
        {
            if (vio.Operation == VioOperation.Write)
                Interlocked.Increment(ref _z.Counters.WritesIn);
            else
                Interlocked.Increment(ref _z.Counters.DiscardsIn);
            if (zone.Locks.TryGetValue(lbn, out var holder))
            {
                // Logical lock: the earlier request on this LBN goes first; this one waits behind it.
                var last = holder.LastLogicalWaiter ?? holder;
                last.NextLogicalWaiter = vio;
                holder.LastLogicalWaiter = vio;
                MakeUrgent(holder);
                return Stage.Parked;
            }
            zone.Locks.Add(lbn, vio);
            vio.HoldsLogicalLock = true;
        }
        // Physical zones in turn, as VDO's logical zones deal out allocations.
        vio.AllocationZone = zone.NextAllocationZone;
        zone.NextAllocationZone = zone.NextAllocationZone + 1 == _physicalZoneCount ? 0 : zone.NextAllocationZone + 1;
        if (_z.BlockMap.NeedsPage(lbn))
        {
            if (vio.Operation == VioOperation.Discard)
            {
                vio.OldMapping = vio.NewMapping = BlockMapping.Unmapped; // never written: nothing to unmap
                return Stage.Update;
            }
            var page = lbn / Geometry.EntriesPerPage;
            if (!zone.PagesInProgress.Add(page))
            {
                zone.PageParked.Add(vio);
                return Stage.Parked;
            }
            vio.AllocatingPage = true;
            return Stage.AllocatePage;
        }
        vio.OldMapping = _z.BlockMap.Get(lbn);
        if (vio.Operation == VioOperation.Discard)
        {
            vio.NewMapping = BlockMapping.Unmapped;
            return Stage.Journal;
        }
        if (vio.IsZero)
        {
            Interlocked.Increment(ref _z.Counters.ZeroBlocksWritten);
            vio.NewMapping = BlockMapping.Zero;
            return Stage.Journal;
        }
        return _dedupe ? Stage.HashLock : Stage.Allocate;
    }

    private Stage InstallPage(DataVio vio)
    {
        var page = vio.Lbn / Geometry.EntriesPerPage;
        _z.BlockMap.InstallPage(page, vio.Allocation, vio.JournalPoint);
        _driver.Applied(vio);
        vio.Allocation = 0;
        vio.JournalPoint = 0;
        vio.AllocatingPage = false;
        var zone = _logical[_z.BlockMap.ZoneOfLbn(vio.Lbn)];
        zone.PagesInProgress.Remove(page);
        ResendPageParked(zone);
        return Stage.Lookup;
    }

    private void ResendPageParked(LogicalZoneState zone)
    {
        for (var i = 0; i < zone.PageParked.Count; i++)
            Send(zone.PageParked[i]); // they look up again (their page may be this one)
        zone.PageParked.Clear();
    }

    /// <summary>A request that was allocating its block-map page failed (e.g. the pool is full): others on the page look up again.</summary>
    private void AbandonPage(DataVio vio)
    {
        if (!vio.AllocatingPage)
            return;
        vio.AllocatingPage = false;
        var zone = _logical[_z.BlockMap.ZoneOfLbn(vio.Lbn)];
        zone.PagesInProgress.Remove(vio.Lbn / Geometry.EntriesPerPage);
        ResendPageParked(zone);
    }

    private Stage Update(DataVio vio)
    {
        var old = vio.OldMapping;
        var now = vio.NewMapping;
        if (old != now)
        {
            _z.BlockMap.Set(vio.Lbn, now, vio.JournalPoint);
            var delta = (now.IsMapped ? 1 : 0) - (old.IsMapped ? 1 : 0);
            _z.AddLogicalBlocksUsed(delta);
            _usedDelta[_z.BlockMap.ZoneOfLbn(vio.Lbn)] += delta;
        }
        _driver.Applied(vio);
        ReleaseLogicalLock(vio);
        return Stage.Done;
    }

    private void ReleaseLogicalLock(DataVio vio)
    {
        var zone = _logical[_z.BlockMap.ZoneOfLbn(vio.Lbn)];
        if (_failure is not null && zone.PageParked.Count > 0)
        {
            // A page allocation may have failed: nobody will install it; let its waiters fail too.
            ResendPageParked(zone);
            zone.PagesInProgress.Clear();
        }
        if (!vio.HoldsLogicalLock)
            return;
        vio.HoldsLogicalLock = false;
        var next = vio.NextLogicalWaiter;
        if (next is null)
        {
            zone.Locks.Remove(vio.Lbn);
            return;
        }
        // The next request on this LBN takes the lock over, with the rest of the chain. Others
        // still wait behind it, so it must not wait in the packer (dm-vdo's transfer_lock cancels
        // its compression): they made only the holder of their time urgent. Without this a write
        // that queued behind a read and a write waited for good once the writers stopped (the
        // second holder sat in a bin nobody filled; CI hung in MessagePassing+grouped).
        if (next.NextLogicalWaiter is not null)
            next.Urgent = true;
        next.LastLogicalWaiter = ReferenceEquals(vio.LastLogicalWaiter, next) ? null : vio.LastLogicalWaiter;
        next.HoldsLogicalLock = true;
        zone.Locks[vio.Lbn] = next;
        vio.NextLogicalWaiter = null;
        vio.LastLogicalWaiter = null;
        Send(next);
    }

    /// <summary>
    /// A read looks its LBN up under the logical lock, as VDO's reads do: a write in flight on the
    /// LBN answers with its data (old-or-new, consistently); otherwise the read takes the lock (or
    /// waits behind another read of the LBN) and keeps it while the read pool reads and
    /// decompresses the block, so no write can free the block under it.
    /// </summary>
    private Stage ReadBlock(DataVio vio)
    {
        var zone = _logical[_z.BlockMap.ZoneOfLbn(vio.Lbn)];
        if (!vio.HoldsLogicalLock)
        {
            Interlocked.Increment(ref _z.Counters.ReadsIn);
            if (zone.Locks.TryGetValue(vio.Lbn, out var holder))
            {
                if (holder.Operation != VioOperation.Read)
                {
                    // A write of this LBN is in flight: it is the newest data.
                    if (holder.Operation == VioOperation.Discard)
                        vio.ReadBuffer.Clear();
                    else
                        holder.Data.CopyTo(vio.ReadBuffer);
                    return Stage.Done;
                }
                var last = holder.LastLogicalWaiter ?? holder; // another read of it: wait behind it
                last.NextLogicalWaiter = vio;
                holder.LastLogicalWaiter = vio;
                return Stage.Parked;
            }
            zone.Locks.Add(vio.Lbn, vio);
            vio.HoldsLogicalLock = true;
        }
        var m = _z.BlockMap.Get(vio.Lbn);
        if (!m.IsMapped || m.IsZero)
        {
            vio.ReadBuffer.Clear();
            ReleaseLogicalLock(vio);
            return Stage.Done;
        }
        vio.OldMapping = m;
        return Stage.ReadData;
    }

    /// <summary>
    /// Reads (and for a packed fragment decompresses) the block the read's mapping names, straight
    /// into the caller's buffer when it gave one (a whole block either way: no copy out after);
    /// its LBN's lock is held.
    /// </summary>
    private void ReadData(DataVio vio)
    {
        var m = vio.OldMapping;
        var data = vio.ReadBuffer;
        if (!m.IsCompressed)
            _z.Device.Read(m.Pbn, data);
        else
        {
            _z.Device.Read(m.Pbn, vio.Scratch);
            PackedBlock.Decompress(vio.Scratch, m.Slot, data, m.Pbn);
        }
        _z.ReadCheck.Verify(vio.Lbn, m, data);
    }

    /// <summary>Someone waits for this request's LBN: it (or the agent it waits on) must not sit in the packer.</summary>
    private void MakeUrgent(DataVio holder)
    {
        holder.Urgent = true;
        Interlocked.MemoryBarrier(); // pairs with the hash zone's: one of the two sees the other's write
        var agent = holder.Agent;
        if (agent is not null)
            agent.Urgent = true;
        PushUrgentBins();
    }

    // ---- Hash zone ------------------------------------------------------------------------

    private Stage HashLock(DataVio vio)
    {
        var zone = _z.HashZoneOf(vio.Name);
        if (zone.TryJoin(vio))
        {
            // Identical data is in flight: this request shares its result when it lands. Its agent
            // may wait in the packer, so (as in the inline scheme) it is acknowledged now.
            if (!_sync)
                Acknowledge(vio);
            Interlocked.MemoryBarrier();
            if (vio.Urgent)
            {
                vio.Agent!.Urgent = true;
                PushUrgentBins();
            }
            return Stage.Parked;
        }
        vio.HoldsHashLock = zone.TryLock(vio);
        zone.Query(vio);
        if (!vio.HasCandidate)
            return Stage.Allocate;
        if (vio.Candidate.HasPhysicalBlock && _z.Geometry.IsDataBlock(vio.Candidate.Pbn))
            return Stage.Pin;
        Interlocked.Increment(ref _z.Counters.DedupeAdviceStale); // a hint that names no data block: it leaves the index now
        zone.Forget(vio);
        return Stage.Allocate;
    }

    private Stage IndexUpdate(DataVio vio)
    {
        var zone = _z.HashZoneOf(vio.Name);
        if (vio.NewMapping != vio.Candidate || !vio.HasCandidate)
            zone.Update(vio); // also replaces a stale hint (a request without the lock comes here for that alone)
        vio.HintStale = false;
        zone.Unlock(vio);
        vio.HoldsHashLock = false;
        var waiters = vio.Waiters;
        var slot = waiters.Count == 0 ? 0 : SlotOf(Zone.HashZone, _z.HashZoneIndex(vio.Name));
        // The group reserved references for its waiters when it pinned or wrote its block; a
        // request sharing the block its own LBN maps, already at the most sharers, reserved none.
        var reserved = vio.Pinned || vio.WroteData;
        for (var i = 0; i < waiters.Count; i++)
        {
            var w = waiters[i];
            if (!reserved)
            {
                w.Agent = null;
                Dispatch(w, Stage.IndexUpdate, slot, Stage.HashLock); // start over: lock, query, a new copy
                continue;
            }
            w.NewMapping = vio.NewMapping;
            Interlocked.Increment(ref _z.Counters.DedupeAdviceValid);
            Dispatch(w, Stage.IndexUpdate, slot, Stage.Journal);
        }
        if (!reserved)
            waiters.Clear();
        return Stage.Journal;
    }

    private void AbortHash(DataVio vio)
    {
        if (vio.HintStale)
        {
            _z.HashZoneOf(vio.Name).Forget(vio); // a stale hint leaves the index even though this write failed
            vio.HintStale = false;
        }
        if (!vio.HoldsHashLock)
            return;
        _z.HashZoneOf(vio.Name).Unlock(vio);
        vio.HoldsHashLock = false;
        var slot = SlotOf(Zone.HashZone, _z.HashZoneIndex(vio.Name));
        foreach (var w in vio.Waiters)
        {
            w.Error = vio.Error;
            Dispatch(w, Stage.AbortHash, slot, Stage.AbortLogical);
        }
        vio.Waiters.Clear();
    }

    // ---- Physical zone --------------------------------------------------------------------

    private Stage Pin(DataVio vio)
    {
        var c = vio.Candidate;
        var here = _z.Depot.ZoneOf(c.Pbn);
        switch (_z.Depot.TryPin(c.Pbn))
        {
            case PinResult.Free:
                Interlocked.Increment(ref _z.Counters.DedupeAdviceStale);
                vio.HintStale = true; // the hash zone drops it (IndexUpdate or AbortHash)
                return AllocateIfHere(vio, here);
            case PinResult.Busy:
                return AllocateIfHere(vio, here);
            case PinResult.Full when c == vio.OldMapping:
                // Rewriting the data its LBN already maps to: the LBN's own reference keeps the block
                // (its logical lock is held), so it is verified and shared without a pin or a new copy.
                return Stage.Verify;
            case PinResult.Full:
                Interlocked.Increment(ref _z.Counters.DedupeRollovers); // write a new copy; the index then points at it
                return AllocateIfHere(vio, here);
            default:
                vio.Pinned = true;
                return Stage.Verify;
        }
    }

    /// <summary>Allocates now when the request's allocation zone is the physical zone running it; otherwise goes there.</summary>
    private Stage AllocateIfHere(DataVio vio, int zone) => vio.AllocationZone == zone ? Allocate(vio) : Stage.Allocate;

    /// <summary>The allocation zone is full: move on to the next physical zone, unless every one was tried.</summary>
    private bool NextAllocationZone(DataVio vio)
    {
        if (++vio.ZonesTried >= _physicalZoneCount)
        {
            vio.ZonesTried = 0;
            return false;
        }
        vio.AllocationZone = (vio.AllocationZone + 1) % _physicalZoneCount;
        return true;
    }

    private void ReleasePin(DataVio vio)
    {
        if (!vio.Pinned)
            return;
        _z.Depot.Release(vio.Candidate.Pbn, SlabDepot.GroupReservation);
        vio.Pinned = false;
    }

    private Stage Allocate(DataVio vio)
    {
        if (_z.Depot.TryAllocate(vio.AllocationZone, out var pbn))
        {
            vio.ZonesTried = 0;
            vio.Allocation = pbn;
            return _compression && _z.Probe.ShouldCompress() ? Stage.Compress : Stage.WriteData;
        }
        if (NextAllocationZone(vio))
            return Stage.Allocate;
        if (vio.SpaceRetries++ < SpacePolicy.Retries)
            return Stage.SpaceRetry; // free what the packer and the journal hold back, then try again
        throw new OutOfSpaceException($"pool is full: no free physical block for LBN {vio.Lbn} ({_z.Geometry.DataBlocks} data blocks all in use); discard data to free space");
    }

    // ---- Packer ---------------------------------------------------------------------------

    private Stage Pack(DataVio vio)
    {
        var packs = _z.Packer.WorthPacking(vio.FragmentSize);
        _z.Probe.Record(packs);
        if (!packs)
            return Stage.WriteData;
        _z.Packer.Add(vio, _closed);
        if (!_sync)
            Acknowledge(vio); // as in VDO: the write waits in the packer after it is acknowledged
        if (vio.Urgent || Volatile.Read(ref _eager) > 0)
        {
            if (vio.Bin is not null && !_closed.Contains(vio.Bin))
                _closed.Add(_z.Packer.CloseBinOf(vio));
        }
        WriteClosedBins();
        return Stage.Parked;
    }

    private void CloseBinsWhenIdle()
    {
        try
        {
            _z.Packer.CloseAll(_closed);
            WriteClosedBins();
        }
        catch (Exception e)
        {
            Failed(e);
        }
    }

    /// <summary>Someone waits for a request in the packer: push its bin out (Inline: now, holding every zone; otherwise a token to the packer).</summary>
    private void PushUrgentBins() => _driver.PushUrgentBins();

    private void PushUrgent()
    {
        _z.Packer.CloseMatching(static v => v.Urgent, _closed);
        WriteClosedBins();
    }

    private void WriteClosedBins()
    {
        for (var b = 0; b < _closed.Count; b++)
            WriteBin(_closed[b]);
        _closed.Clear();
    }

    /// <summary>Writes a bin as one packed block at its first member's allocation, then sends every member on.</summary>
    private void WriteBin(PackerBin bin)
    {
        var fragments = bin.Fragments;
        var pbn = fragments[0].Allocation;
        bin.Assemble(_packed, _sizes);
        var count = fragments.Length;
        fragments.CopyTo(_members);
        _z.Packer.Recycle(bin);
        Exception? error = null;
        try
        {
            _z.Device.Write(pbn, _packed);
        }
        catch (Exception e)
        {
            error = e;
        }
        _z.Counters.CompressedBlocksWritten++;
        var slot = SlotOf(Zone.Packer);
        for (var i = 0; i < count; i++)
        {
            var f = _members[i];
            f.Bin = null;
            if (error is not null)
            {
                Dispatch(f, Stage.Pack, slot, Fail(f, error, Stage.Pack, slot));
                continue;
            }
            f.NewMapping = BlockMapping.Compressed(pbn, i, f.Name);
            f.WroteData = true;
            _z.Counters.CompressedFragmentsWritten++;
            _z.Counters.CompressedFragmentBytes += f.FragmentSize;
            if (i > 0)
                _members[0].CoFragments.Add(f); // sent on by the first once it has reserved the block for them
        }
        if (error is null)
        {
            var first = _members[0];
            first.Allocation = 0; // the packed block is this allocation
            Dispatch(first, Stage.Pack, slot, count > 1 ? Stage.ReservePacked : AfterDataWritten(first));
        }
        Array.Clear(_members, 0, count);
    }

    // ---- Journal --------------------------------------------------------------------------

    private Stage JournalPage(DataVio vio)
    {
        if (!_z.Journal.HasRoom || _checkpointing)
        {
            _journalParked.Enqueue(vio);
            StartCheckpointIfNeeded(force: true);
            return Stage.Parked;
        }
        var page = vio.Lbn / Geometry.EntriesPerPage;
        var pbn = vio.Allocation;
        var point = _z.JournalZone.Append(new JournalEntry(JournalEntryKind.BlockMapPage, page, new BlockMapping(pbn, MappingState.Uncompressed), BlockMapping.Unmapped));
        _z.JournalZone.Defer(point, SlabJournalOperation.BlockMapPage, pbn);
        vio.JournalPoint = point;
        _driver.CountUnapplied(vio);
        _z.JournalZone.ApplyDurable();
        return Stage.InstallPage;
    }

    private Stage Journal(DataVio vio)
    {
        var old = vio.OldMapping;
        var now = vio.NewMapping;
        var owner = vio.Agent is null;
        // Reservations this request answers for: a group owner (pinned, or wrote the block) its
        // group's 1 + 16, a waiter the one its agent reserved for it.
        var held = !now.HasPhysicalBlock ? 0 : owner ? (vio.Pinned || vio.WroteData ? SlabDepot.GroupReservation : 0) : 1;
        var unusedByGroup = SlabDepot.GroupReservation - 1 - vio.Waiters.Count;
        if (old == now)
        {
            CloseEpoch(vio);
            if (held == 0)
                return Stage.Update;
            vio.SpaceRetries = owner ? unusedByGroup + 1 : 1; // nobody references the block through this request
            vio.Pinned = false;
            return Stage.ReleaseUnused;
        }
        if (!_z.Journal.HasRoom || _checkpointing)
        {
            _journalParked.Enqueue(vio);
            StartCheckpointIfNeeded(force: true);
            return Stage.Parked;
        }
        var point = _z.JournalZone.Append(new JournalEntry(JournalEntryKind.DataMapping, vio.Lbn, now, old));
        vio.JournalPoint = point;
        _driver.CountUnapplied(vio);
        CloseEpoch(vio);
        if (now.HasPhysicalBlock)
        {
            if (owner && held > 0)
                _physicalInbox.AddSeal(now.Pbn, unusedByGroup);
            _z.JournalZone.Defer(point, SlabJournalOperation.Increment, now.Pbn);
            vio.Pinned = false;
        }
        if (old.HasPhysicalBlock)
            _z.JournalZone.Defer(point, SlabJournalOperation.Decrement, old.Pbn); // after its increment (I3)
        _z.JournalZone.ApplyDurable();
        if (_sync)
        {
            _durableParked.Add(vio);
            return Stage.Parked;
        }
        return Stage.Update;
    }

    /// <summary>After each journal message: Sync writes are acknowledged once durable; commit when the queue runs dry (group commit).</summary>
    private void AfterJournalMessage()
    {
        if (_durableParked.Count == 0 || _driver.JournalBusy)
            return;
        try
        {
            _z.JournalZone.Commit();
        }
        catch (Exception e)
        {
            foreach (var v in _durableParked)
                v.Error ??= e;
            Failed(e);
        }
        var slot = SlotOf(Zone.Journal);
        foreach (var v in _durableParked)
            Dispatch(v, Stage.Journal, slot, Stage.Update);
        _durableParked.Clear();
    }
}
