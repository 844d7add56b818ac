namespace DataflowVdo.Storage;

/// <summary>
/// The journal of one slab: its reference-count changes in recovery-journal order (I3), in a
/// ring of blocks at the start of the slab, in the self-checking sector format of the recovery
/// journal. Entries are appended only once the recovery-journal entry that caused them is
/// durable, so a slab-journal block can be written at any time (I2). The slab's ref-count blocks
/// are written only when this ring fills (or at clean close); until then the slab journal is
/// what recovery replays into them, and the recovery journal can be reclaimed as soon as the
/// slab journals hold its entries. One owner at a time (the slab's physical zone).
/// </summary>
public sealed class SlabJournal
{
    private readonly IBlockDevice _device;
    private readonly Geometry _geometry;
    private readonly ulong _nonce;
    private byte[]? _open;
    private int _count;
    private int _written;

    /// <summary>A journal that continues at block <paramref name="sequence"/>, everything before it being in the ref counts.</summary>
    public SlabJournal(IBlockDevice device, Geometry geometry, int slab, ulong sequence, long lastKey)
    {
        _device = device;
        _geometry = geometry;
        Slab = slab;
        _nonce = NonceOf(geometry, slab);
        Sequence = sequence;
        Head = sequence;
        LastKey = lastKey;
    }

    /// <summary>The slab.</summary>
    public int Slab { get; }

    /// <summary>Sequence of the block being filled.</summary>
    public ulong Sequence { get; private set; }

    /// <summary>Oldest block the ref-count blocks on disk still need.</summary>
    public ulong Head { get; private set; }

    /// <summary>Recovery key of the newest entry.</summary>
    public long LastKey { get; private set; }

    /// <summary>Blocks between the head and the open block.</summary>
    public long BlocksInUse => (long)(Sequence - Head) + 1;

    /// <summary>
    /// True when the slab's ref counts must be written so the ring can be reused. The rest of the
    /// ring must absorb what can still arrive before that write: what becomes durable at once
    /// (one journal commit: the batch written but not flushed, the queued blocks and the open
    /// one, each at most <see cref="RecoveryJournal.QueueLimit"/> blocks), at most two changes
    /// per recovery-journal entry. With a queue of ring/8 blocks that is ring/2 + 4 blocks, hence
    /// the line at ring/2 - 6 (ring ≥ 16).
    /// </summary>
    public bool NeedsRefCountWrite => BlocksInUse >= Math.Max(1, (_geometry.SlabJournalBlocks / 2) - 6);

    /// <summary>Slab-journal blocks written.</summary>
    public long BlocksWritten { get; private set; }

    /// <summary>Appends an entry; keys must grow (recovery-journal order).</summary>
    public void Append(in SlabJournalEntry entry)
    {
        if (entry.Key < LastKey)
            throw new InvalidOperationException($"slab {Slab}: journal entry key {entry.Key} after {LastKey} breaks recovery-journal order (I3)");
        if (_count == JournalBlockFormat.EntriesPerBlock)
            Advance();
        _open ??= new byte[VdoConstants.BlockSize];
        entry.Encode(_open.AsSpan(JournalBlockFormat.EntryOffset(_count), JournalEntry.EncodedSize));
        _count++;
        LastKey = entry.Key;
        if (_count == JournalBlockFormat.EntriesPerBlock)
            WriteOpen();
    }

    /// <summary>Writes the open block if it holds entries not yet on disk (checkpoint).</summary>
    public void WriteOpen()
    {
        if (_open is null || _count == _written)
            return;
        JournalBlockFormat.Seal(_open, Sequence, _count, _nonce);
        _device.Write(Location(Sequence), _open);
        _written = _count;
        BlocksWritten++;
    }

    /// <summary>The ref counts now reflect every entry: the ring restarts at a fresh block.</summary>
    public void Reclaim()
    {
        if (_count > 0)
            NextBlock();
        Head = Sequence;
    }

    private void Advance()
    {
        WriteOpen();
        if (BlocksInUse >= _geometry.SlabJournalBlocks)
            throw new InvalidOperationException($"slab {Slab}: journal ring is full: its ref counts were not written in time (bug)");
        NextBlock();
    }

    private void NextBlock()
    {
        Sequence++;
        _count = 0;
        _written = 0;
        if (_open is not null)
            Array.Clear(_open);
    }

    private long Location(ulong sequence) => _geometry.SlabJournalStart(Slab) + (long)(sequence % (ulong)_geometry.SlabJournalBlocks);

    internal static ulong NonceOf(Geometry g, int slab) => g.Nonce ^ ((ulong)(slab + 1) * 0x9E3779B97F4A7C15UL);

    /// <summary>
    /// Reads slab <paramref name="slab"/>'s journal from <paramref name="from"/> to its end and
    /// returns the entries in order; <paramref name="next"/> is the first sequence after them.
    /// </summary>
    public static List<SlabJournalEntry> Read(IBlockDevice device, Geometry geometry, int slab, ulong from, out ulong next)
    {
        var entries = new List<SlabJournalEntry>();
        var block = new byte[VdoConstants.BlockSize];
        var nonce = NonceOf(geometry, slab);
        var sequence = from;
        for (var n = 0; n < geometry.SlabJournalBlocks; n++, sequence++)
        {
            device.Read(geometry.SlabJournalStart(slab) + (long)(sequence % (ulong)geometry.SlabJournalBlocks), block);
            var count = JournalBlockFormat.Parse(block, sequence, nonce, out var complete);
            for (var i = 0; i < count; i++)
                entries.Add(SlabJournalEntry.Decode(block.AsSpan(JournalBlockFormat.EntryOffset(i), JournalEntry.EncodedSize)));
            if (!complete)
            {
                // Slab-journal blocks are written without flushes between them, so any later slot
                // may hold a block of this incarnation: resume a whole ring further on (see RecoveryJournal).
                next = sequence + (ulong)geometry.SlabJournalBlocks;
                return entries;
            }
        }
        next = sequence;
        return entries;
    }
}
