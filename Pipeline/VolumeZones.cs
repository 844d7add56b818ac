using DataflowVdo.Blocks;
using DataflowVdo.Config;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// Everything an open volume is made of: the device, the structures (the block map and the slab
/// depot split into logical and physical zones, the dedupe index into hash zones) and the step
/// objects. Schedulers run the steps against these; the volume owns their life
/// cycle (format, open, recovery, checkpoint, close).
/// </summary>
internal sealed class VolumeZones
{
    public required IBlockDevice Device { get; init; }
    /// <summary>The layout, with the logical size as last grown (<see cref="Volume.GrowLogical"/>).</summary>
    public required Geometry Geometry { get; set; }
    public required VdoOptions Options { get; init; }
    public required SlabDepot Depot { get; init; }
    public required BlockMap BlockMap { get; init; }
    public required RecoveryJournal Journal { get; init; }
    public required JournalZone JournalZone { get; init; }
    /// <summary>One hash zone per <c>Pipeline:HashZones</c>, each with its slice of the dedupe index.</summary>
    public required HashZone[] HashZones { get; init; }

    /// <summary>The hash zone that owns <paramref name="name"/>: its first byte, scaled to the zone count.</summary>
    public int HashZoneIndex(UInt128 name) => HashZoneIndexOfHigh((ulong)(name >> 64));

    /// <summary>
    /// <see cref="HashZoneIndex"/> from the name's high 64 bits: routing a request by
    /// <see cref="DataVio.NameHigh"/> passes no UInt128 through a call, which would keep its caller
    /// out of the ReadyToRun image (crossgen2 calls UInt128's ABI unstable).
    /// </summary>
    public int HashZoneIndexOfHigh(ulong high) => (int)(((high >> 56) * (ulong)HashZones.Length) >> 8);

    /// <summary>The hash zone that owns <paramref name="name"/>.</summary>
    public HashZone HashZoneOf(UInt128 name) => HashZones[HashZoneIndex(name)];

    /// <summary>Records in the dedupe index (all hash zones).</summary>
    public int IndexEntries => HashZones.Sum(h => h.Index.Count);

    /// <summary>Capacity of the dedupe index (all hash zones).</summary>
    public int IndexCapacity => HashZones.Sum(h => h.Index.Capacity);

    /// <summary>Saves the dedupe index of every hash zone.</summary>
    public void SaveIndex() => DedupeIndex.SaveAll([.. HashZones.Select(h => h.Index)], Device, Geometry);

    /// <summary>Loads a saved dedupe index into the hash zones.</summary>
    public void LoadIndex() => DedupeIndex.LoadAll([.. HashZones.Select(h => h.Index)], HashZoneIndex, Device, Geometry);
    public required Packer Packer { get; init; }
    public required HashStep Hash { get; init; }
    public required CompressStep Compress { get; init; }

    /// <summary>Skips compression while it keeps being wasted (shared by every compressing thread).</summary>
    public required CompressionProbe Probe { get; init; }
    public required VerifyStep Verify { get; init; }
    public required PersistentCounters Counters { get; init; }
    public required MetadataWriter MetadataWriter { get; init; }
    public VolumeHooks Hooks { get; init; } = new();

    /// <summary>The read check of user data (<see cref="DataChecksums"/>).</summary>
    public DataChecksums ReadCheck => _readCheck ??= new DataChecksums(Hooks.Namer, Counters, Hooks.Logger);
    private DataChecksums? _readCheck;

    /// <summary>Sequence of the last superblock written.</summary>
    public ulong SuperBlockSequence { get; set; }

    /// <summary>What the last superblock written said about the saved index.</summary>
    public bool IndexSavedOnDisk { get; private set; }

    private readonly Lock _superBlockLock = new();
    private SuperBlock? _lastSuperBlock;
    private string? _readOnlyReason;

    /// <summary>The superblock last read or written (its fields describe what is durable).</summary>
    public SuperBlock? LastSuperBlock
    {
        get { lock (_superBlockLock) return _lastSuperBlock; }
        set { lock (_superBlockLock) _lastSuperBlock = value; }
    }

    /// <summary>Why the pool is in read-only mode, or null; every superblock written carries it.</summary>
    public string? ReadOnlyReason => Volatile.Read(ref _readOnlyReason);

    /// <summary>Sets the read-only reason; true for the caller that set it first (the one to log and persist it).</summary>
    public bool TryEnterReadOnly(string reason) => Interlocked.CompareExchange(ref _readOnlyReason, reason, null) is null;

    /// <summary>Sets or clears the read-only reason in memory (open, repair); the next superblock write persists it.</summary>
    public void SetReadOnlyReason(string? reason) => Volatile.Write(ref _readOnlyReason, reason);

    /// <summary>
    /// Persists read-only mode: writes the next superblock copy with the last superblock's fields
    /// (what is durable does not change) and the reason, and flushes. May run on any thread
    /// while requests are failing; a superblock written by a checkpoint meanwhile carries the
    /// reason too.
    /// </summary>
    public void PersistReadOnly()
    {
        lock (_superBlockLock)
        {
            if (_lastSuperBlock is not { } last)
                return; // still formatting: the format fails instead
            WriteSuperBlockLocked(last with { Clean = false, ReadOnlyReason = ReadOnlyReason });
        }
    }

    private long _journalEntriesBase = -1;
    private long _journalWritesBase;

    /// <summary>Folds this open's journal activity into the cumulative counters.</summary>
    public void RefreshCounters()
    {
        if (_journalEntriesBase < 0)
        {
            _journalEntriesBase = Counters.JournalEntries;
            _journalWritesBase = Counters.JournalBlockWrites;
        }
        Counters.JournalEntries = _journalEntriesBase + Journal.EntriesAppended;
        Counters.JournalBlockWrites = _journalWritesBase + Journal.BlockWrites;
    }

    private long _logicalBlocksUsed;

    /// <summary>Mapped logical blocks (zero blocks included).</summary>
    public long LogicalBlocksUsed
    {
        get => Interlocked.Read(ref _logicalBlocksUsed);
        set => Interlocked.Exchange(ref _logicalBlocksUsed, value);
    }

    /// <summary>Counts <paramref name="delta"/> more mapped logical blocks (logical zones may run at once).</summary>
    public void AddLogicalBlocksUsed(long delta)
    {
        if (delta != 0)
            Interlocked.Add(ref _logicalBlocksUsed, delta);
    }

    /// <summary>
    /// Makes the metadata reflect every journal entry, then lets the journal reuse its ring (I6):
    /// commit the journal (I2 for what follows), write dirty block-map pages and ref counts,
    /// flush, then record the new replay start in the superblock.
    /// </summary>
    public void Checkpoint(bool clean, bool writeRefCounts = false)
    {
        JournalZone.Commit();
        BlockMap.WriteDirty();
        // The slab journals now hold every reference change the recovery journal is about to release.
        Depot.WriteJournals();
        if (clean || writeRefCounts)
            Depot.WriteAllRefCounts(MetadataWriter);
        MetadataWriter.Commit();
        var indexSaved = false;
        if (clean)
        {
            SaveIndex();
            indexSaved = true;
        }
        Device.Flush();
        Journal.Reclaim();
        Counters.Checkpoints++;
        WriteSuperBlock(clean, indexSaved);
    }

    /// <summary>
    /// Writes the ref counts of every slab whose journal is half full, so its ring can be reused.
    /// No journal commit first: a change reaches the counts only when it is logged in its slab's
    /// journal, so the counts always say exactly what the slab journals say (the zoned schemes'
    /// physical zones do the same).
    /// </summary>
    public void WriteFullSlabJournals()
    {
        if (!Depot.TryTakeSlabToWrite(out var slab))
            return;
        do
            Depot.WriteRefCounts(slab, MetadataWriter);
        while (Depot.TryTakeSlabToWrite(out slab));
        MetadataWriter.CommitDurable(); // the ref counts are durable before the slab journals reuse their rings
    }

    /// <summary>Writes the next superblock copy and flushes it (<paramref name="logicalBlocks"/>: a growth's new size, before it is used).</summary>
    public void WriteSuperBlock(bool clean, bool indexSaved, long? logicalBlocksUsed = null, long? logicalBlocks = null)
    {
        lock (_superBlockLock)
        {
            RefreshCounters();
            WriteSuperBlockLocked(new SuperBlock
            {
                Clean = clean,
                IndexSaved = indexSaved,
                JournalReplayFrom = Journal.ReplayFrom,
                LogicalBlocksUsed = logicalBlocksUsed ?? LogicalBlocksUsed,
                LogicalBlocks = logicalBlocks ?? Geometry.LogicalBlocks,
                Counters = Counters.Clone(),
                ReadOnlyReason = ReadOnlyReason,
            });
            IndexSavedOnDisk = indexSaved;
        }
    }

    private void WriteSuperBlockLocked(SuperBlock fields)
    {
        var sb = fields with { Sequence = ++SuperBlockSequence };
        var block = new byte[VdoConstants.BlockSize];
        sb.Encode(block, Geometry.Nonce);
        Device.Write(sb.Location, block);
        Device.Flush();
        _lastSuperBlock = sb;
    }
}
