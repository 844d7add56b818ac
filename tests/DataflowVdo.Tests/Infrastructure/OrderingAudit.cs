using System.Buffers.Binary;
using DataflowVdo.Storage;

namespace DataflowVdo.Tests.Infrastructure;

/// <summary>
/// Watches every write and flush of a <see cref="CrashSimulatingDevice"/> and records each
/// violation of the write-ordering invariants as it happens:
/// I1 — a journal block never carries a new entry mapping a data block that is not yet durable,
/// and a data block is never written while journal blocks already written map LBNs to it (its
/// data came after the entry: a crash between the two leaves the entry mapping the block's old
/// contents, or a stranger's);
/// I2 — a block-map page is never written with a mapping that no durable journal entry made;
/// I3 — each slab journal receives its entries in recovery-journal order (keys only grow; an
/// increment's key precedes its paired decrement's);
/// I6 — a journal block is never written over a ring slot that the durable superblock still
/// needs for replay; and a superblock never moves the replay start past an entry whose
/// reference changes are not durable in its slabs' journals (or ref-count blocks).
/// </summary>
public sealed class OrderingAudit
{
    private readonly Geometry _g;
    private readonly HashSet<long> _unflushedData = [];
    private readonly Dictionary<long, int> _references = []; // data block → mappings to it in written journal entries, less those undone since (counted from this audit's start)
    private readonly Dictionary<long, byte[]> _unflushedJournal = [];
    private readonly Dictionary<ulong, int> _entriesWritten = [];
    private readonly Dictionary<long, HashSet<BlockMapping>> _durableJournal = []; // every mapping a durable entry gave each LBN
    private readonly Dictionary<long, byte[]> _pages = [];
    private readonly List<(ulong Sequence, ulong ReplayFrom)> _unflushedSuper = [];
    private ulong _durableSuperSequence;
    private ulong _durableReplayFrom;

    public OrderingAudit(CrashSimulatingDevice device, Geometry geometry, ulong replayFrom)
    {
        _g = geometry;
        _durableReplayFrom = replayFrom;
        device.OnWrite = OnWrite;
        device.OnFlush = OnFlush;
    }

    public List<string> Violations { get; } = [];

    public long JournalBlocksChecked { get; private set; }

    /// <summary>Data writes to a block that written journal entries mapped before and have all unmapped since.</summary>
    public long ReusedDataBlocksChecked { get; private set; }

    public long PagesChecked { get; private set; }

    public long SlabJournalEntriesChecked { get; private set; }

    private readonly Dictionary<int, long> _slabLastKey = [];
    private readonly Dictionary<int, long> _unflushedSlabKey = []; // newest key each slab has written (journal or ref counts) since the last flush
    private readonly Dictionary<int, long> _durableSlabKey = [];   // ... and that is durable
    private readonly SortedDictionary<ulong, List<(int Slab, long Key)>> _changesBySequence = []; // reference changes of each journal block seen

    /// <summary>Superblocks whose replay start was checked against the slab journals.</summary>
    public long ReplayStartsChecked { get; private set; }
    private readonly Dictionary<(int, ulong), int> _slabEntriesWritten = [];

    private void OnWrite(long pbn, ReadOnlyMemory<byte> data)
    {
        var block = data.Span;
        if (pbn >= _g.JournalStart && pbn < _g.JournalStart + _g.JournalBlocks)
            CheckJournalBlock(pbn, block);
        else if (pbn is 1 or 2)
        {
            var replayFrom = BinaryPrimitives.ReadUInt64LittleEndian(block[(MetadataBlock.HeaderSize + 16)..]);
            CheckReplayStart(replayFrom);
            _unflushedSuper.Add((BinaryPrimitives.ReadUInt64LittleEndian(block[MetadataBlock.HeaderSize..]), replayFrom));
        }
        else if (SlabJournalSlot(pbn) is int slab)
            CheckSlabJournalBlock(slab, block);
        else if (RefCountSlot(pbn) is int counted)
            NoteSlabKey(counted, BinaryPrimitives.ReadInt64LittleEndian(block[(MetadataBlock.HeaderSize + 8)..]));
        else if (_g.IsDataBlock(pbn))
        {
            if (MetadataBlock.Validate(block, MetadataKind.BlockMapLeaf, _g.Nonce, BinaryPrimitives.ReadInt64LittleEndian(block[16..])) is null)
                CheckPage(pbn, block);
            else
            {
                if (_references.TryGetValue(pbn, out var references) && references <= 0)
                    ReusedDataBlocksChecked++;
                if (references > 0)
                    Violations.Add($"I1: data block {pbn} written after a journal block that maps LBNs to it ({references} mapping(s)) was written");
                _unflushedData.Add(pbn);
            }
        }
    }

    private void CheckJournalBlock(long pbn, ReadOnlySpan<byte> block)
    {
        JournalBlocksChecked++;
        var sequence = BinaryPrimitives.ReadUInt64LittleEndian(block);
        if (sequence >= _durableReplayFrom + (ulong)_g.JournalBlocks)
            Violations.Add($"I6: journal block {sequence} overwrites block {sequence - (ulong)_g.JournalBlocks}, but the durable superblock replays from {_durableReplayFrom}");
        var count = JournalBlockFormat.Parse(block, sequence, _g.Nonce, out _);
        var already = _entriesWritten.GetValueOrDefault(sequence);
        for (var i = already; i < count; i++)
        {
            var e = JournalEntry.Decode(block.Slice(JournalBlockFormat.EntryOffset(i), JournalEntry.EncodedSize));
            if (e.Kind != JournalEntryKind.DataMapping)
                continue;
            if (e.New.HasPhysicalBlock && _unflushedData.Contains(e.New.Pbn))
                Violations.Add($"I1: journal block {sequence} maps LBN {e.Lbn} to PBN {e.New.Pbn} before that block's data is durable");
            if (e.New.HasPhysicalBlock)
                _references[e.New.Pbn] = _references.GetValueOrDefault(e.New.Pbn) + 1;
            if (e.Old.HasPhysicalBlock)
                _references[e.Old.Pbn] = _references.GetValueOrDefault(e.Old.Pbn) - 1;
        }
        _entriesWritten[sequence] = Math.Max(already, count);
        _unflushedJournal[pbn] = block.ToArray();
        var changes = new List<(int Slab, long Key)>();
        for (var i = 0; i < count; i++)
        {
            var e = JournalEntry.Decode(block.Slice(JournalBlockFormat.EntryOffset(i), JournalEntry.EncodedSize));
            var point = ((long)sequence * JournalBlockFormat.EntriesPerBlock) + i;
            if (e.Kind == JournalEntryKind.BlockMapPage)
                changes.Add((_g.Locate(e.New.Pbn).Slab, SlabJournalEntry.KeyOf(point, SlabJournalOperation.BlockMapPage)));
            else
            {
                if (e.New.HasPhysicalBlock)
                    changes.Add((_g.Locate(e.New.Pbn).Slab, SlabJournalEntry.KeyOf(point, SlabJournalOperation.Increment)));
                if (e.Old.HasPhysicalBlock)
                    changes.Add((_g.Locate(e.Old.Pbn).Slab, SlabJournalEntry.KeyOf(point, SlabJournalOperation.Decrement)));
            }
        }
        _changesBySequence[sequence] = changes;
    }

    /// <summary>
    /// I6 for the slabs: a superblock that moves the replay start to <paramref name="replayFrom"/>
    /// is written only once every reference change of the entries before it is durable in its
    /// slab's journal or ref-count blocks (recovery will not replay those entries again).
    /// </summary>
    private void CheckReplayStart(ulong replayFrom)
    {
        ReplayStartsChecked++;
        var done = new List<ulong>();
        foreach (var (sequence, changes) in _changesBySequence)
        {
            if (sequence >= replayFrom)
                break;
            foreach (var (slab, key) in changes)
            {
                if (_durableSlabKey.GetValueOrDefault(slab, long.MinValue) < key)
                {
                    Violations.Add($"I6: a superblock moves the replay start to journal block {replayFrom}, but slab {slab} has not made key {key} (journal block {sequence}) durable");
                    break;
                }
            }
            done.Add(sequence);
        }
        foreach (var sequence in done)
            _changesBySequence.Remove(sequence);
    }

    private void NoteSlabKey(int slab, long key)
    {
        if (key > _unflushedSlabKey.GetValueOrDefault(slab, long.MinValue))
            _unflushedSlabKey[slab] = key;
    }

    private int? RefCountSlot(long pbn)
    {
        if (pbn < _g.DepotStart)
            return null;
        var rel = pbn - _g.DepotStart;
        return rel % _g.SlabStride < _g.RefCountBlocksPerSlab ? (int)(rel / _g.SlabStride) : null;
    }

    private int? SlabJournalSlot(long pbn)
    {
        if (pbn < _g.DepotStart)
            return null;
        var rel = pbn - _g.DepotStart;
        var offset = rel % _g.SlabStride;
        return offset >= _g.RefCountBlocksPerSlab && offset < _g.RefCountBlocksPerSlab + _g.SlabJournalBlocks
            ? (int)(rel / _g.SlabStride)
            : null;
    }

    private void CheckSlabJournalBlock(int slab, ReadOnlySpan<byte> block)
    {
        var sequence = BinaryPrimitives.ReadUInt64LittleEndian(block);
        var count = JournalBlockFormat.Parse(block, sequence, SlabJournal.NonceOf(_g, slab), out _);
        var already = _slabEntriesWritten.GetValueOrDefault((slab, sequence));
        for (var i = already; i < count; i++)
        {
            var e = SlabJournalEntry.Decode(block.Slice(JournalBlockFormat.EntryOffset(i), JournalEntry.EncodedSize));
            SlabJournalEntriesChecked++;
            if (_slabLastKey.TryGetValue(slab, out var last) && e.Key <= last)
                Violations.Add($"I3: slab {slab} journal block {sequence} holds key {e.Key} after key {last}: not recovery-journal order");
            _slabLastKey[slab] = e.Key;
            NoteSlabKey(slab, e.Key);
        }
        _slabEntriesWritten[(slab, sequence)] = Math.Max(already, count);
    }

    private void CheckPage(long pbn, ReadOnlySpan<byte> block)
    {
        PagesChecked++;
        var pageIndex = BinaryPrimitives.ReadInt64LittleEndian(block[16..]);
        _pages.TryGetValue(pbn, out var previous);
        for (var slot = 0; slot < Geometry.EntriesPerPage; slot++)
        {
            var offset = MetadataBlock.HeaderSize + (slot * BlockMapping.EncodedSize);
            var m = BlockMapping.Decode(block.Slice(offset, BlockMapping.EncodedSize));
            var before = previous is null ? BlockMapping.Unmapped : BlockMapping.Decode(previous.AsSpan(offset, BlockMapping.EncodedSize));
            if (m == before)
                continue;
            var lbn = (pageIndex * Geometry.EntriesPerPage) + slot;
            // A page may lag behind the journal (the message-passing scheme applies an entry to its
            // page a little after appending it; replay brings it forward) but never run ahead of it.
            if (!_durableJournal.TryGetValue(lbn, out var journaled) || !journaled.Contains(m))
                Violations.Add($"I2: block-map page {pageIndex} written with LBN {lbn} → {m} before a durable journal entry says so");
        }
        _pages[pbn] = block.ToArray();
    }

    private void OnFlush()
    {
        _unflushedData.Clear();
        foreach (var (slab, key) in _unflushedSlabKey)
        {
            if (key > _durableSlabKey.GetValueOrDefault(slab, long.MinValue))
                _durableSlabKey[slab] = key;
        }
        _unflushedSlabKey.Clear();
        var blocks = new List<(ulong Sequence, byte[] Block)>();
        foreach (var (_, block) in _unflushedJournal)
            blocks.Add((BinaryPrimitives.ReadUInt64LittleEndian(block), block));
        blocks.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        foreach (var (sequence, block) in blocks)
        {
            var count = JournalBlockFormat.Parse(block, sequence, _g.Nonce, out _);
            for (var i = 0; i < count; i++)
            {
                var e = JournalEntry.Decode(block.AsSpan(JournalBlockFormat.EntryOffset(i), JournalEntry.EncodedSize));
                if (e.Kind != JournalEntryKind.DataMapping)
                    continue;
                if (!_durableJournal.TryGetValue(e.Lbn, out var made))
                    _durableJournal[e.Lbn] = made = [];
                made.Add(e.New);
            }
        }
        _unflushedJournal.Clear();
        foreach (var (sequence, replayFrom) in _unflushedSuper)
        {
            if (sequence >= _durableSuperSequence)
            {
                _durableSuperSequence = sequence;
                _durableReplayFrom = replayFrom;
            }
        }
        _unflushedSuper.Clear();
    }
}
