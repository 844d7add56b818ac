using DataflowVdo.Blocks;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>The steps of a request, each run by the one block that owns what it touches.</summary>
internal sealed partial class ZonedScheduler
{
    private enum Stage
    {
        Name,
        Lookup,
        InstallPage,
        Update,
        ReadBlock,
        AbortLogical,
        HashLock,
        IndexUpdate,
        AbortHash,
        AllocatePage,
        Pin,
        Allocate,
        UnpinAllocate,
        ReleaseMember,
        ReleaseUnused,
        Verify,
        Compress,
        Pack,
        SpaceRetry,
        WriteData,
        JournalPage,
        Journal,
        CommitRetry,
        Parked,
        Done,
    }

    private static Zone ZoneOf(Stage s) => s switch
    {
        Stage.Name => Zone.Hash,
        Stage.Lookup or Stage.InstallPage or Stage.Update or Stage.ReadBlock or Stage.AbortLogical => Zone.Logical,
        Stage.HashLock or Stage.IndexUpdate or Stage.AbortHash => Zone.HashZone,
        Stage.AllocatePage or Stage.Pin or Stage.Allocate or Stage.UnpinAllocate or Stage.ReleaseMember or Stage.ReleaseUnused => Zone.Physical,
        Stage.Verify => Zone.Verify,
        Stage.Compress => Zone.Compress,
        Stage.Pack or Stage.SpaceRetry => Zone.Packer,
        Stage.WriteData => Zone.DataWrite,
        Stage.JournalPage or Stage.Journal or Stage.CommitRetry => Zone.Journal,
        _ => throw new InvalidOperationException($"stage {s} has no zone"),
    };

    // Logical zone state.
    private readonly Dictionary<long, DataVio> _logicalLocks = [];
    private readonly HashSet<long> _pagesInProgress = [];
    private readonly List<DataVio> _pageParked = [];
    private long _logicalBlocksUsedAtCheckpoint;

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
                _z.Hash.Run(vio);
                return Stage.Lookup;
            case Stage.Lookup:
                return Lookup(vio);
            case Stage.InstallPage:
                return InstallPage(vio);
            case Stage.Update:
                return Update(vio);
            case Stage.ReadBlock:
                return ReadBlock(vio);
            case Stage.AbortLogical:
                MarkApplied(vio);
                ReleaseLogicalLock(vio);
                return Stage.Done;
            case Stage.HashLock:
                return HashLock(vio);
            case Stage.IndexUpdate:
                return IndexUpdate(vio);
            case Stage.AbortHash:
                AbortHash(vio);
                return vio.HoldsLogicalLock ? Stage.AbortLogical : Stage.Done;
            case Stage.AllocatePage:
                if (!_z.Depot.TryAllocate(out var page))
                    throw new OutOfSpaceException($"pool is full: no free physical block for the block-map page of LBN {vio.Lbn}; discard data to free space");
                vio.Allocation = page;
                return Stage.JournalPage;
            case Stage.Pin:
                return Pin(vio);
            case Stage.UnpinAllocate:
                ReleasePin(vio);
                Interlocked.Increment(ref _z.Counters.DedupeAdviceStale);
                return Allocate(vio);
            case Stage.Allocate:
                return Allocate(vio);
            case Stage.ReleaseMember:
                _z.Depot.ReleaseProvisional(vio.Allocation);
                _z.Depot.Reserve(vio.NewMapping.Pbn); // this fragment's group may map to the packed block
                vio.Allocation = 0;
                return AfterDataWritten(vio);
            case Stage.ReleaseUnused:
                _z.Depot.Release(vio.NewMapping.Pbn, vio.SpaceRetries);
                return Stage.Update;
            case Stage.Verify:
                if (!_z.Verify.Run(vio))
                    return Stage.UnpinAllocate;
                Interlocked.Increment(ref _z.Counters.DedupeAdviceValid);
                vio.NewMapping = vio.Candidate;
                return vio.HoldsHashLock ? Stage.IndexUpdate : Stage.Journal;
            case Stage.Compress:
                _z.Compress.Run(vio);
                return vio.FragmentSize > 0 ? Stage.Pack : Stage.WriteData;
            case Stage.Pack:
                return Pack(vio);
            case Stage.SpaceRetry:
                _z.Packer.CloseAll(_closed);
                WriteClosedBins();
                return Stage.CommitRetry;
            case Stage.WriteData:
                _z.Device.Write(vio.Allocation, vio.Data);
                Interlocked.Increment(ref _z.Counters.DataBlocksWritten);
                vio.WroteData = true;
                vio.NewMapping = new BlockMapping(vio.Allocation, MappingState.Uncompressed);
                vio.Allocation = 0; // the mapping owns it now
                return AfterDataWritten(vio);
            case Stage.JournalPage:
                return JournalPage(vio);
            case Stage.Journal:
                return Journal(vio);
            case Stage.CommitRetry:
                _z.JournalZone.Commit();
                return Stage.Allocate;
            default:
                throw new InvalidOperationException($"request in stage {stage} cannot run");
        }
    }

    private Stage AfterDataWritten(DataVio vio) => vio.HoldsHashLock ? Stage.IndexUpdate : Stage.Journal;

    // ---- Logical zone -------------------------------------------------------------------

    private Stage Lookup(DataVio vio)
    {
        var lbn = vio.Lbn;
        if (!vio.HoldsLogicalLock)
        {
            if (vio.Operation == VioOperation.Write)
                _z.Counters.WritesIn++;
            else
                _z.Counters.DiscardsIn++;
            if (_logicalLocks.TryGetValue(lbn, out var holder))
            {
                // Logical lock: the earlier request on this LBN goes first; this one waits behind it.
                var last = holder.LastLogicalWaiter ?? holder;
                last.NextLogicalWaiter = vio;
                holder.LastLogicalWaiter = vio;
                MakeUrgent(holder);
                return Stage.Parked;
            }
            _logicalLocks.Add(lbn, vio);
            vio.HoldsLogicalLock = true;
        }
        if (_z.BlockMap.NeedsPage(lbn))
        {
            if (vio.Operation == VioOperation.Discard)
            {
                vio.OldMapping = vio.NewMapping = BlockMapping.Unmapped; // never written: nothing to unmap
                return Stage.Update;
            }
            var page = lbn / Geometry.EntriesPerPage;
            if (!_pagesInProgress.Add(page))
            {
                _pageParked.Add(vio);
                return Stage.Parked;
            }
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
            _z.Counters.ZeroBlocksWritten++;
            vio.NewMapping = BlockMapping.Zero;
            return Stage.Journal;
        }
        return _dedupe ? Stage.HashLock : Stage.Allocate;
    }

    private Stage InstallPage(DataVio vio)
    {
        var page = vio.Lbn / Geometry.EntriesPerPage;
        _z.BlockMap.InstallPage(page, vio.Allocation, vio.JournalPoint);
        MarkApplied(vio);
        vio.Allocation = 0;
        vio.JournalPoint = 0;
        _pagesInProgress.Remove(page);
        for (var i = 0; i < _pageParked.Count; i++)
            Send(Zone.Logical, _pageParked[i]); // they look up again (their page may be this one)
        _pageParked.Clear();
        return Stage.Lookup;
    }

    private Stage Update(DataVio vio)
    {
        var old = vio.OldMapping;
        var now = vio.NewMapping;
        if (old != now)
        {
            _z.BlockMap.Set(vio.Lbn, now, vio.JournalPoint);
            _z.LogicalBlocksUsed += (now.IsMapped ? 1 : 0) - (old.IsMapped ? 1 : 0);
        }
        MarkApplied(vio);
        ReleaseLogicalLock(vio);
        return Stage.Done;
    }

    private void ReleaseLogicalLock(DataVio vio)
    {
        if (_failure is not null && _pageParked.Count > 0)
        {
            // A page allocation may have failed: nobody will install it; let its waiters fail too.
            foreach (var parked in _pageParked)
                Send(Zone.Logical, parked);
            _pageParked.Clear();
            _pagesInProgress.Clear();
        }
        if (!vio.HoldsLogicalLock)
            return;
        vio.HoldsLogicalLock = false;
        var next = vio.NextLogicalWaiter;
        if (next is null)
        {
            _logicalLocks.Remove(vio.Lbn);
            return;
        }
        // The next request on this LBN takes the lock over, with the rest of the chain.
        next.LastLogicalWaiter = ReferenceEquals(vio.LastLogicalWaiter, next) ? null : vio.LastLogicalWaiter;
        next.HoldsLogicalLock = true;
        _logicalLocks[vio.Lbn] = next;
        vio.NextLogicalWaiter = null;
        vio.LastLogicalWaiter = null;
        Send(Zone.Logical, next);
    }

    private Stage ReadBlock(DataVio vio)
    {
        _z.Counters.ReadsIn++;
        if (_logicalLocks.TryGetValue(vio.Lbn, out var holder))
        {
            // A write of this LBN is in flight: it is the newest data (old-or-new, consistently).
            if (holder.Operation == VioOperation.Discard)
                vio.Data.AsSpan().Clear();
            else
                holder.Data.CopyTo(vio.Data, 0);
            return Stage.Done;
        }
        var m = _z.BlockMap.Get(vio.Lbn);
        if (!m.IsMapped || m.IsZero)
            vio.Data.AsSpan().Clear();
        else if (!m.IsCompressed)
            _z.Device.Read(m.Pbn, vio.Data);
        else
        {
            // Read in the logical zone: no write can free the block while its LBN's mapping is read here.
            _z.Device.Read(m.Pbn, vio.Scratch);
            PackedBlock.Decompress(vio.Scratch, m.Slot, vio.Data, m.Pbn);
        }
        return Stage.Done;
    }

    /// <summary>Someone waits for this request's LBN: it (or the agent it waits on) must not sit in the packer.</summary>
    private void MakeUrgent(DataVio holder)
    {
        holder.Urgent = true;
        Interlocked.MemoryBarrier(); // pairs with the hash zone's: one of the two sees the other's write
        var agent = holder.Agent;
        if (agent is not null)
            agent.Urgent = true;
        PostToken(TokenKind.PushUrgent);
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
                PostToken(TokenKind.PushUrgent);
            }
            return Stage.Parked;
        }
        vio.HoldsHashLock = zone.TryLock(vio);
        zone.Query(vio);
        if (vio.HasCandidate && vio.Candidate.HasPhysicalBlock && _z.Geometry.IsDataBlock(vio.Candidate.Pbn))
            return Stage.Pin;
        return Stage.Allocate;
    }

    private Stage IndexUpdate(DataVio vio)
    {
        var zone = _z.HashZoneOf(vio.Name);
        if (vio.NewMapping != vio.Candidate || !vio.HasCandidate)
            zone.Update(vio);
        zone.Unlock(vio);
        vio.HoldsHashLock = false;
        var waiters = vio.Waiters;
        for (var i = 0; i < waiters.Count; i++)
        {
            var w = waiters[i];
            w.NewMapping = vio.NewMapping;
            Interlocked.Increment(ref _z.Counters.DedupeAdviceValid);
            w.Stage = (int)Stage.Journal;
            Send(Zone.Journal, w);
        }
        return Stage.Journal;
    }

    private void AbortHash(DataVio vio)
    {
        if (!vio.HoldsHashLock)
            return;
        _z.HashZoneOf(vio.Name).Unlock(vio);
        vio.HoldsHashLock = false;
        foreach (var w in vio.Waiters)
        {
            w.Error = vio.Error;
            w.Stage = (int)Stage.AbortLogical;
            Send(Zone.Logical, w);
        }
        vio.Waiters.Clear();
    }

    // ---- Physical zone --------------------------------------------------------------------

    private Stage Pin(DataVio vio)
    {
        var c = vio.Candidate;
        switch (_z.Depot.TryPin(c.Pbn))
        {
            case PinResult.Free:
                Interlocked.Increment(ref _z.Counters.DedupeAdviceStale); // the index entry is replaced when this write lands
                return Allocate(vio);
            case PinResult.Busy:
                return Allocate(vio);
            case PinResult.Full:
                _z.Counters.DedupeRollovers++; // write a new copy; the index then points at it
                return Allocate(vio);
            default:
                vio.Pinned = true;
                return Stage.Verify;
        }
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
        if (_z.Depot.TryAllocate(out var pbn))
        {
            vio.Allocation = pbn;
            return _compression ? Stage.Compress : Stage.WriteData;
        }
        if (vio.SpaceRetries++ < 2)
            return Stage.SpaceRetry; // free what the packer and the journal hold back, then try again
        throw new OutOfSpaceException($"pool is full: no free physical block for LBN {vio.Lbn} ({_z.Geometry.DataBlocks} data blocks all in use); discard data to free space");
    }

    // ---- Packer ---------------------------------------------------------------------------

    private Stage Pack(DataVio vio)
    {
        if (!_z.Packer.WorthPacking(vio.FragmentSize))
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
        for (var i = 0; i < count; i++)
        {
            var f = _members[i];
            _members[i] = null!;
            f.Bin = null;
            if (error is not null)
            {
                Dispatch(f, Fail(f, error));
                continue;
            }
            f.NewMapping = BlockMapping.Compressed(pbn, i);
            f.WroteData = true;
            _z.Counters.CompressedFragmentsWritten++;
            _z.Counters.CompressedFragmentBytes += f.FragmentSize;
            if (i == 0)
            {
                f.Allocation = 0; // the packed block is this allocation
                Dispatch(f, AfterDataWritten(f));
            }
            else
            {
                Dispatch(f, Stage.ReleaseMember);
            }
        }
    }

    private void Dispatch(DataVio vio, Stage next)
    {
        vio.Stage = (int)next;
        if (next == Stage.Done)
            Complete(vio);
        else if (next != Stage.Parked)
            Send(ZoneOf(next), vio);
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
        CountUnapplied(vio);
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
        CountUnapplied(vio);
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
        if (_durableParked.Count == 0 || JournalBusy())
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
        foreach (var v in _durableParked)
        {
            v.Stage = (int)Stage.Update;
            Send(Zone.Logical, v);
        }
        _durableParked.Clear();
    }
}
