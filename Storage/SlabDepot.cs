using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>
/// The slabs: one-byte reference counts for every data block (0 free, 1..254 sharers,
/// 255 provisional), the allocator, and the slab summary. Counts live in memory (1 byte per
/// 4 KiB block, as in VDO) and dirty ref-count blocks are written at checkpoints, after the
/// journal entries they reflect are durable (I2). The slabs are dealt to physical zones (slab
/// <c>s</c> to zone <c>s % zones</c>, as in VDO) and every block is touched only by its zone's
/// owner, so zones run concurrently; whole-depot methods (format, recovery, a quiet volume's
/// checkpoint) need every zone quiet.
/// </summary>
public sealed partial class SlabDepot
{
    /// <summary>Count stored for a block-map leaf page: full, so it is never shared.</summary>
    public const byte BlockMapPageCount = VdoConstants.MaximumReferenceCount;

    private readonly Geometry _geometry;
    private readonly byte[][] _counts;
    private readonly bool[][] _dirty;
    private readonly int[] _free;
    private readonly int[] _cursor;
    private readonly SlabJournal[] _journals;
    private readonly ulong[][] _blockSequence; // per ref-count block: slab-journal sequence it was written at
    private readonly long[][] _blockKey;       // per ref-count block: recovery key of the last entry it reflects
    private readonly AllocatorZone[] _zones;
    private int _nextZone;

    private readonly IBlockDevice _device;

    private SlabDepot(IBlockDevice device, Geometry geometry, int zones)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(zones, 1);
        _device = device;
        _geometry = geometry;
        _zones = new AllocatorZone[zones];
        for (var z = 0; z < zones; z++)
            _zones[z] = new AllocatorZone([.. Enumerable.Range(0, geometry.SlabCount).Where(slab => slab % zones == z)]);
        _journals = new SlabJournal[geometry.SlabCount];
        _blockSequence = new ulong[geometry.SlabCount][];
        _blockKey = new long[geometry.SlabCount][];
        _counts = new byte[geometry.SlabCount][];
        _dirty = new bool[geometry.SlabCount][];
        _free = new int[geometry.SlabCount];
        _cursor = new int[geometry.SlabCount];
        for (var s = 0; s < geometry.SlabCount; s++)
        {
            _counts[s] = new byte[geometry.SlabBlocks];
            _dirty[s] = new bool[geometry.RefCountBlocksPerSlab];
            _blockSequence[s] = new ulong[geometry.RefCountBlocksPerSlab];
            _blockKey[s] = new long[geometry.RefCountBlocksPerSlab];
            _free[s] = geometry.SlabBlocks;
            _journals[s] = new SlabJournal(device, geometry, s, 1, -1);
        }
    }

    /// <summary>Physical zones the slabs are dealt to (a zone may have none when slabs are few).</summary>
    public int ZoneCount => _zones.Length;

    /// <summary>The physical zone that owns <paramref name="pbn"/> (by its slab).</summary>
    public int ZoneOf(long pbn) => _zones.Length == 1 ? 0 : _geometry.Locate(pbn).Slab % _zones.Length;

    private AllocatorZone ZoneOfSlab(int slab) => _zones[slab % _zones.Length];

    private AllocatorZone ZoneOfBlock(long pbn) => _zones.Length == 1 ? _zones[0] : ZoneOfSlab(_geometry.Locate(pbn).Slab);

    /// <summary>Free data blocks (a sum over zones: exact when they are quiet).</summary>
    public long FreeBlocks => _zones.Sum(static z => Volatile.Read(ref z.Free));

    /// <summary>Blocks holding block-map leaf pages.</summary>
    public long BlockMapPages => _zones.Sum(static z => Volatile.Read(ref z.Pages));

    /// <summary>Blocks allocated but not yet referenced by a journaled mapping.</summary>
    public long ProvisionalBlocks => _zones.Sum(static z => Volatile.Read(ref z.Provisional));

    /// <summary>Ref-count blocks written so far.</summary>
    public long RefCountBlocksWritten => _zones.Sum(static z => Volatile.Read(ref z.RefCountBlocksWritten));

    /// <summary>Data blocks in use for data (referenced or provisional, not block-map pages).</summary>
    public long DataBlocksUsed => _geometry.DataBlocks - FreeBlocks - BlockMapPages;

    /// <summary>A new, all-free depot (format).</summary>
    public static SlabDepot CreateEmpty(IBlockDevice device, Geometry geometry, int zones = 1)
    {
        var depot = new SlabDepot(device, geometry, zones);
        for (var s = 0; s < geometry.SlabCount; s++)
            Array.Fill(depot._dirty[s], true);
        depot.Recount();
        return depot;
    }

    /// <summary>
    /// A depot whose reference counts are not read (a read-only open that only reads data): its
    /// figures, counts and allocations mean nothing and must not be used.
    /// </summary>
    public static SlabDepot CreateUnloaded(IBlockDevice device, Geometry geometry, int zones = 1) => new(device, geometry, zones);

    /// <summary>Loads and validates every ref-count block.</summary>
    public static SlabDepot Load(IBlockDevice device, Geometry geometry, int zones = 1)
    {
        var depot = new SlabDepot(device, geometry, zones);
        var block = new byte[VdoConstants.BlockSize];
        for (var s = 0; s < geometry.SlabCount; s++)
        {
            for (var b = 0; b < geometry.RefCountBlocksPerSlab; b++)
            {
                var pbn = geometry.RefCountStart(s) + b;
                device.Read(pbn, block);
                MetadataBlock.Check(block, MetadataKind.RefCounts, geometry.Nonce, IndexOf(s, b), $"reference-count block {b} of slab {s} (PBN {pbn})");
                var payload = MetadataBlock.Payload(block.AsSpan());
                depot._blockSequence[s][b] = BinaryPrimitives.ReadUInt64LittleEndian(payload);
                depot._blockKey[s][b] = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
                var first = b * Geometry.CountsPerBlock;
                var n = Math.Min(Geometry.CountsPerBlock, geometry.SlabBlocks - first);
                payload.Slice(Geometry.RefCountHeaderSize, n).CopyTo(depot._counts[s].AsSpan(first, n));
            }
            // After a clean close every block of a slab was written together: the journal resumes there.
            depot._journals[s] = new SlabJournal(device, geometry, s, depot._blockSequence[s].Min(), depot._blockKey[s].Max());
        }
        depot.Recount();
        return depot;
    }

    /// <summary>The journal of slab <paramref name="slab"/>.</summary>
    public SlabJournal JournalOf(int slab) => _journals[slab];

    /// <summary>Slab-journal sequence at which ref-count block <paramref name="block"/> of <paramref name="slab"/> was written.</summary>
    public ulong RefCountSequence(int slab, int block) => _blockSequence[slab][block];

    /// <summary>Recovery key of the newest change ref-count block <paramref name="block"/> of <paramref name="slab"/> reflects.</summary>
    public long RefCountKey(int slab, int block) => _blockKey[slab][block];

    /// <summary>Slab-journal blocks written so far.</summary>
    public long SlabJournalBlocksWritten => _journals.Sum(j => j.BlocksWritten);

    internal static long IndexOf(int slab, int block) => ((long)slab << 16) | (uint)block;

    /// <summary>Recomputes free, provisional and block-map-page totals from the counts.</summary>
    public void Recount()
    {
        foreach (var z in _zones)
        {
            z.Free = 0;
            z.Provisional = 0;
        }
        for (var s = 0; s < _geometry.SlabCount; s++)
        {
            var free = _counts[s].AsSpan().Count((byte)0);
            _free[s] = free;
            var z = ZoneOfSlab(s);
            z.Free += free;
            z.Provisional += _counts[s].AsSpan().Count(VdoConstants.ProvisionalReferenceCount);
        }
        // A reopened pool writes on from the emptiest slab, not into slab 0's holes.
        foreach (var z in _zones)
            z.CurrentSlab = Emptiest(z);
    }

    /// <summary>Sets the number of block-map pages (known from the block-map root).</summary>
    public void SetBlockMapPageTotal(long pages)
    {
        foreach (var z in _zones)
            z.Pages = 0;
        _zones[0].Pages = pages; // only the total is ever read
    }

    /// <summary>The reference count of a data block.</summary>
    public byte GetCount(long pbn)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        return _counts[slab][sbn];
    }

    /// <summary>
    /// Allocates a free block from any zone (zones taken in turn) and marks it provisional.
    /// Returns false when the pool is full. Every zone must be quiet (inline scheme).
    /// </summary>
    public bool TryAllocate(out long pbn)
    {
        for (var i = 0; i < _zones.Length; i++)
        {
            var z = (_nextZone + i) % _zones.Length;
            if (TryAllocate(z, out pbn))
            {
                _nextZone = (z + 1) % _zones.Length;
                return true;
            }
        }
        pbn = 0;
        return false;
    }

    /// <summary>
    /// Allocates a free block of physical zone <paramref name="zone"/> and marks it provisional.
    /// Returns false when that zone is full. Allocation walks a slab in order, like VDO, so data
    /// stays roughly sequential. When only holes behind the walk are left in the slab, the zone's
    /// emptiest slab is opened instead if it has more free blocks (dm-vdo's slab priority): on a
    /// used pool a stream of writes then lands in long runs, not in the scattered blocks that
    /// overwrites freed (through FUSE, 1 MiB writes into such holes went to the page cache in
    /// short runs instead of straight to the disk).
    /// </summary>
    public bool TryAllocate(int zone, out long pbn)
    {
        var z = _zones[zone];
        if (z.Free == 0)
        {
            pbn = 0;
            return false;
        }
        if (_free[z.Slabs[z.CurrentSlab]] == 0)
            z.CurrentSlab = Emptiest(z);
        int slab, sbn;
        while (true)
        {
            slab = z.Slabs[z.CurrentSlab];
            var counts = _counts[slab];
            var start = _cursor[slab];
            // _free counts only unreserved zeros, so this finds one; a reserved zero is skipped.
            sbn = counts.AsSpan(start).IndexOf((byte)0);
            if (sbn >= 0)
                sbn += start;
            else
            {
                var emptiest = Emptiest(z);
                if (emptiest != z.CurrentSlab && _free[z.Slabs[emptiest]] > _free[slab])
                {
                    z.CurrentSlab = emptiest;
                    continue;
                }
                sbn = counts.AsSpan(0, start).IndexOf((byte)0);
            }
            _cursor[slab] = sbn + 1; // at the end: the next allocation here looks for an emptier slab before the holes behind
            if (!z.IsReserved(_geometry.SlabDataStart(slab) + sbn))
                break;
        }
        Set(slab, sbn, VdoConstants.ProvisionalReferenceCount);
        pbn = _geometry.SlabDataStart(slab) + sbn;
        z.Reserved[pbn] = GroupReservation; // the allocating write's group
        _free[slab]--;
        z.Free--;
        z.Provisional++;
        return true;
    }

    /// <summary>The index (in the zone's order) of the zone's slab with the most free blocks; the first of equals.</summary>
    private int Emptiest(AllocatorZone z)
    {
        var best = 0;
        for (var i = 1; i < z.Slabs.Length; i++)
        {
            if (_free[z.Slabs[i]] > _free[z.Slabs[best]])
                best = i;
        }
        return best;
    }

    /// <summary>Returns a provisional block that ended up unused (deduplicated or compressed).</summary>
    public void ReleaseProvisional(long pbn)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        if (_counts[slab][sbn] != VdoConstants.ProvisionalReferenceCount)
            throw new InvalidOperationException($"PBN {pbn} is not provisional (count {_counts[slab][sbn]})");
        var z = ZoneOfSlab(slab);
        Set(slab, sbn, 0);
        z.Provisional--;
        z.Sealed.Remove(pbn);
        z.DropReservations(pbn, GroupReservation);
        if (z.IsReserved(pbn))
            return; // a write that pinned it will give it its first reference
        _free[slab]++;
        z.Free++;
    }

    /// <summary>Turns a provisional block into a block-map page (when its journal entry is logged).</summary>
    private void MakeBlockMapPage(long pbn)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        if (_counts[slab][sbn] != VdoConstants.ProvisionalReferenceCount)
            throw new InvalidOperationException($"PBN {pbn} is not provisional");
        var z = ZoneOfSlab(slab);
        Set(slab, sbn, BlockMapPageCount);
        z.Provisional--;
        z.Pages++;
    }

    /// <summary>
    /// References one write group may add to a block: the writing request plus the requests that
    /// wait on its hash lock (1 + 16). Each group holds this many reservations on the block it
    /// will map to, and gives back what it did not use with its own increment.
    /// </summary>
    public const int GroupReservation = 17;

    /// <summary>
    /// Reserves a block a write group is about to share (a dedupe hint, before it is verified):
    /// until the group's increments are logged (<see cref="Log"/>) or it gives the reservation back
    /// (<see cref="Release"/>), the block is not freed even if its count drops to 0, so it cannot be
    /// reallocated and overwritten under the writes, and its count cannot overflow (VDO: the PBN
    /// lock's increment budget). Counts themselves change only when changes are logged, so
    /// ref-count blocks written meanwhile say exactly what the slab journals say. A provisional
    /// block can be pinned: a hint names one only once its data is written.
    /// </summary>
    public PinResult TryPin(long pbn)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        var count = _counts[slab][sbn];
        var z = ZoneOfSlab(slab);
        z.Reserved.TryGetValue(pbn, out var reserved);
        if (count == 0 && reserved == 0)
            return PinResult.Free;
        if (count == VdoConstants.ProvisionalReferenceCount && !z.Sealed.Contains(pbn))
            return PinResult.Busy; // allocated, but its data may not be written yet: not a block to share

        var sharers = (count == VdoConstants.ProvisionalReferenceCount ? 0 : count) + reserved + GroupReservation;
        if (count == BlockMapPageCount || sharers > VdoConstants.MaximumReferenceCount)
            return PinResult.Full;
        z.Reserved[pbn] = reserved + GroupReservation;
        return PinResult.Pinned;
    }

    /// <summary>
    /// A write group is complete (its data is written and it knows who maps to the block): gives back
    /// the <paramref name="unused"/> reservations nobody will use, and from now on the block, even
    /// while still provisional, may be pinned by other writes with the same data.
    /// </summary>
    public void Seal(long pbn, int unused)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        if (_counts[slab][sbn] == VdoConstants.ProvisionalReferenceCount)
            ZoneOfSlab(slab).Sealed.Add(pbn);
        Release(pbn, unused);
    }

    /// <summary>Adds <paramref name="groups"/> groups' reservations on a packed block (each packed fragment's writers may map to it).</summary>
    public void Reserve(long pbn, int groups = 1)
    {
        var z = ZoneOfBlock(pbn);
        z.Reserved.TryGetValue(pbn, out var reserved);
        z.Reserved[pbn] = reserved + (groups * GroupReservation);
    }

    /// <summary>Gives back <paramref name="count"/> reservations that will not become references; frees the block if nothing else holds it.</summary>
    public void Release(long pbn, int count)
    {
        if (count == 0)
            return;
        var (slab, sbn) = _geometry.Locate(pbn);
        var z = ZoneOfSlab(slab);
        z.DropReservations(pbn, count);
        if (_counts[slab][sbn] == 0 && !z.IsReserved(pbn))
        {
            _free[slab]++;
            z.Free++;
        }
    }

    /// <summary>Blocks with reservations (writes between a hint or an allocation and their logged increments).</summary>
    public int ReservedBlocks => _zones.Sum(static z => z.Reserved.Count);

    /// <summary>Adds a reference (a provisional block, or a reserved one whose count fell to 0, gets its first).</summary>
    private void Increment(long pbn)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        var count = _counts[slab][sbn];
        if (count == VdoConstants.ProvisionalReferenceCount)
        {
            var z = ZoneOfSlab(slab);
            Set(slab, sbn, 1);
            z.Provisional--;
            z.Sealed.Remove(pbn);
            return;
        }
        if (count >= VdoConstants.MaximumReferenceCount)
            throw new InvalidOperationException($"cannot add a reference to PBN {pbn} with count {count}");
        Set(slab, sbn, (byte)(count + 1));
    }

    /// <summary>Drops a reference; the block is free when the count reaches 0 (and nobody reserved it).</summary>
    public void Decrement(long pbn)
    {
        var (slab, sbn) = _geometry.Locate(pbn);
        var count = _counts[slab][sbn];
        if (count == 0 || count == VdoConstants.ProvisionalReferenceCount)
            throw new InvalidOperationException($"reference-count underflow on PBN {pbn} (count {count})");
        Set(slab, sbn, (byte)(count - 1));
        var z = ZoneOfSlab(slab);
        if (count == 1 && !z.IsReserved(pbn))
        {
            _free[slab]++;
            z.Free++;
        }
    }

    /// <summary>
    /// Applies a reference change whose recovery-journal entry is durable, in recovery-journal
    /// order, and records it in the slab's journal (I3). Every change takes effect here and only
    /// here, so the counts always say exactly what the slab journals say: an increment consumes
    /// one reservation (plus <paramref name="release"/> its group did not use) and turns a
    /// provisional block into a shared one; a block-map page allocation turns its provisional
    /// block into a page; a decrement frees a block at 0.
    /// </summary>
    public void Log(SlabJournalOperation operation, long pbn, long key, int release = 0)
    {
        switch (operation)
        {
            case SlabJournalOperation.Decrement:
                Decrement(pbn);
                break;
            case SlabJournalOperation.Increment:
                ZoneOfBlock(pbn).DropReservations(pbn, 1 + release); // only a reserved block may gain a reference
                Increment(pbn);
                break;
            case SlabJournalOperation.BlockMapPage:
                ZoneOfBlock(pbn).DropReservations(pbn, GroupReservation);
                MakeBlockMapPage(pbn);
                break;
        }
        var (slab, sbn) = _geometry.Locate(pbn);
        var journal = _journals[slab];
        journal.Append(new SlabJournalEntry(operation, sbn, key));
        var z = ZoneOfSlab(slab);
        if (journal.NeedsRefCountWrite && z.Queued.Add(slab))
            z.NeedRefCountWrite.Enqueue(slab);
    }

    /// <summary>Takes the next slab (of any zone) whose journal is half full, if any. Every zone must be quiet.</summary>
    public bool TryTakeSlabToWrite(out int slab)
    {
        for (var z = 0; z < _zones.Length; z++)
        {
            if (TryTakeSlabToWrite(z, out slab))
                return true;
        }
        slab = -1;
        return false;
    }

    /// <summary>Takes the next slab of physical zone <paramref name="zone"/> whose journal is half full, if any.</summary>
    public bool TryTakeSlabToWrite(int zone, out int slab)
    {
        var z = _zones[zone];
        if (z.NeedRefCountWrite.TryDequeue(out slab))
        {
            z.Queued.Remove(slab);
            return true;
        }
        return false;
    }

    /// <summary>Applies a replayed change to a count during recovery (no journal, no free-list bookkeeping: call <see cref="Recount"/> after).</summary>
    public void Replay(SlabJournalOperation operation, int slab, int sbn)
    {
        var count = _counts[slab][sbn];
        byte next = operation switch
        {
            SlabJournalOperation.BlockMapPage => BlockMapPageCount,
            SlabJournalOperation.Increment when count is 0 or VdoConstants.ProvisionalReferenceCount => 1,
            SlabJournalOperation.Increment when count < VdoConstants.MaximumReferenceCount => (byte)(count + 1),
            SlabJournalOperation.Decrement when count is > 0 and <= VdoConstants.MaximumReferenceCount => (byte)(count - 1),
            _ => throw new CorruptMetadataException($"slab {slab}", $"replaying {operation} on block {sbn} with reference count {count} is impossible"),
        };
        Set(slab, sbn, next);
    }

    /// <summary>Reclaims every provisional count (after recovery no write is in flight).</summary>
    public void ReclaimProvisional()
    {
        for (var s = 0; s < _geometry.SlabCount; s++)
        {
            var counts = _counts[s];
            for (var i = counts.AsSpan().IndexOf(VdoConstants.ProvisionalReferenceCount); i >= 0; i = counts.AsSpan().IndexOf(VdoConstants.ProvisionalReferenceCount))
                Set(s, i, 0);
        }
        Recount();
    }

    /// <summary>Restarts slab <paramref name="slab"/>'s journal (recovery: after its on-disk entries were replayed).</summary>
    public void ResumeJournal(int slab, ulong sequence, long lastKey) =>
        _journals[slab] = new SlabJournal(_device, _geometry, slab, sequence, lastKey);

    private void Set(int slab, int sbn, byte value)
    {
        _counts[slab][sbn] = value;
        _dirty[slab][sbn / Geometry.CountsPerBlock] = true;
    }

    /// <summary>Replaces every count (rebuild after a crash) and marks all blocks dirty.</summary>
    public void ReplaceAll(Func<int, byte[]> countsOfSlab)
    {
        for (var s = 0; s < _geometry.SlabCount; s++)
        {
            countsOfSlab(s).CopyTo(_counts[s], 0);
            Array.Fill(_dirty[s], true);
            _cursor[s] = 0;
        }
        Recount();
    }

    /// <summary>Copies of the counts of one slab (for checks).</summary>
    public ReadOnlySpan<byte> CountsOfSlab(int slab) => _counts[slab];

    /// <summary>Writes the open block of every slab journal (checkpoint: the recovery journal may then be reclaimed).</summary>
    public void WriteJournals()
    {
        foreach (var journal in _journals)
            journal.WriteOpen();
    }

    /// <summary>Writes the open block of every slab journal of physical zone <paramref name="zone"/>.</summary>
    public void WriteJournals(int zone)
    {
        foreach (var slab in _zones[zone].Slabs)
            _journals[slab].WriteOpen();
    }

    /// <summary>
    /// Stages all ref-count blocks of <paramref name="slab"/>, stamped with the journal position they
    /// reflect, and restarts its journal. Every change must be logged first (the recovery journal
    /// committed), so the counts equal what the journal says.
    /// </summary>
    public void WriteRefCounts(int slab, MetadataWriter writer)
    {
        var journal = _journals[slab];
        journal.Reclaim();
        var block = new byte[VdoConstants.BlockSize];
        for (var b = 0; b < _geometry.RefCountBlocksPerSlab; b++)
        {
            Array.Clear(block);
            var payload = MetadataBlock.Payload(block.AsSpan());
            BinaryPrimitives.WriteUInt64LittleEndian(payload, journal.Head);
            BinaryPrimitives.WriteInt64LittleEndian(payload[8..], journal.LastKey);
            var first = b * Geometry.CountsPerBlock;
            var n = Math.Min(Geometry.CountsPerBlock, _geometry.SlabBlocks - first);
            _counts[slab].AsSpan(first, n).CopyTo(payload[Geometry.RefCountHeaderSize..]);
            MetadataBlock.Seal(block, MetadataKind.RefCounts, _geometry.Nonce, IndexOf(slab, b));
            writer.Write(_geometry.RefCountStart(slab) + b, block);
            _blockSequence[slab][b] = journal.Head;
            _blockKey[slab][b] = journal.LastKey;
            _dirty[slab][b] = false;
            ZoneOfSlab(slab).RefCountBlocksWritten++;
        }
    }

    /// <summary>Stages the ref counts of every slab that changed, and the slab summary (clean close, format, after recovery).</summary>
    public void WriteAllRefCounts(MetadataWriter writer)
    {
        for (var s = 0; s < _geometry.SlabCount; s++)
        {
            if (Array.IndexOf(_dirty[s], true) >= 0 || _journals[s].LastKey != _blockKey[s][0] || _journals[s].BlocksInUse > 1)
                WriteRefCounts(s, writer);
        }
        WriteSummary(new byte[VdoConstants.BlockSize], writer);
    }

    private void WriteSummary(byte[] block, MetadataWriter writer)
    {
        // The summary (free blocks per slab) lets tools size slabs without reading every count.
        for (var b = 0; b < _geometry.SummaryBlocks; b++)
        {
            Array.Clear(block);
            var payload = MetadataBlock.Payload(block.AsSpan());
            for (var i = 0; i < Geometry.SummaryEntriesPerBlock; i++)
            {
                var slab = (b * Geometry.SummaryEntriesPerBlock) + i;
                if (slab >= _geometry.SlabCount)
                    break;
                BinaryPrimitives.WriteInt32LittleEndian(payload[(i * 8)..], _free[slab]);
                payload[(i * 8) + 4] = 1;
            }
            MetadataBlock.Seal(block, MetadataKind.SlabSummary, _geometry.Nonce, b);
            writer.Write(_geometry.SummaryStart + b, block);
        }
    }

    /// <summary>What one physical zone's owner alone touches besides its slabs' counts and journals.</summary>
    private sealed class AllocatorZone(int[] slabs)
    {
        /// <summary>The zone's slabs, in allocation order.</summary>
        public readonly int[] Slabs = slabs;
        public int CurrentSlab;
        public long Free;
        public long Provisional;
        public long Pages;
        public long RefCountBlocksWritten;
        public readonly Dictionary<long, int> Reserved = [];
        public readonly HashSet<long> Sealed = [];
        public readonly HashSet<int> Queued = [];
        public readonly Queue<int> NeedRefCountWrite = new();

        public void DropReservations(long pbn, int count)
        {
            if (!Reserved.TryGetValue(pbn, out var reserved) || reserved < count)
                throw new InvalidOperationException($"PBN {pbn} holds {reserved} reservations, cannot release {count}");
            if (reserved == count)
                Reserved.Remove(pbn);
            else
                Reserved[pbn] = reserved - count;
        }

        public bool IsReserved(long pbn) => Reserved.Count > 0 && Reserved.ContainsKey(pbn);
    }
}
