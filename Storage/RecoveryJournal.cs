namespace DataflowVdo.Storage;

/// <summary>
/// The write-ahead log of every mapping change, in one global order, in a ring of blocks.
/// Entries are appended to an open block; <see cref="Commit"/> makes everything appended durable
/// (group commit: one block write and flush serves every entry appended since the last one).
/// Every journal block write is preceded by a device flush, so the data blocks (and earlier
/// journal blocks) an entry depends on are durable before the entry is (I1).
/// One owner at a time: callers serialize access.
/// </summary>
public sealed class RecoveryJournal
{
    private readonly IBlockDevice _device;
    private readonly Geometry _geometry;
    private readonly byte[] _open = GC.AllocateArray<byte>(VdoConstants.BlockSize, pinned: true);
    private int _openCount;
    private int _writtenCount = -1; // entries of the open block already on disk (not necessarily flushed)
    private bool _unflushed;
    private long _durableEntries;
    private long _writtenPoint; // journal point just past the last entry written to the device

    /// <summary>Starts appending at block <paramref name="sequence"/> (an empty block).</summary>
    public RecoveryJournal(IBlockDevice device, Geometry geometry, ulong sequence, ulong replayFrom)
    {
        _device = device;
        _geometry = geometry;
        OpenSequence = sequence;
        ReplayFrom = replayFrom;
        _durableEntries = AppendedEntries;
        _writtenPoint = AppendedEntries;
    }

    /// <summary>Sequence number of the block being filled.</summary>
    public ulong OpenSequence { get; private set; }

    /// <summary>Oldest block whose entries may not yet be reflected in the saved metadata.</summary>
    public ulong ReplayFrom { get; private set; }

    /// <summary>A monotonic number of entries appended (a journal point), used to wait for durability.</summary>
    public long AppendedEntries => ((long)OpenSequence * JournalBlockFormat.EntriesPerBlock) + _openCount;

    /// <summary>Every entry with a point below this is durable.</summary>
    public long DurableEntries => _durableEntries;

    /// <summary>Blocks in use between the replay start and the open block.</summary>
    public long BlocksInUse => (long)(OpenSequence - ReplayFrom) + 1;

    /// <summary>True when the ring is three-quarters full: time to checkpoint and reclaim (I6).</summary>
    public bool NeedsCheckpoint => BlocksInUse >= _geometry.JournalBlocks * 3L / 4;

    /// <summary>Journal block writes since this journal object was created (this open).</summary>
    public long BlockWrites { get; private set; }

    /// <summary>Entries appended since this journal object was created (this open).</summary>
    public long EntriesAppended { get; private set; }

    /// <summary>Appends an entry; returns its journal point (the entry is durable once <see cref="DurableEntries"/> passes it).</summary>
    public long Append(in JournalEntry entry)
    {
        if (_openCount == JournalBlockFormat.EntriesPerBlock)
            Advance();
        entry.Encode(_open.AsSpan(JournalBlockFormat.EntryOffset(_openCount), JournalEntry.EncodedSize));
        _openCount++;
        EntriesAppended++;
        var point = AppendedEntries - 1;
        if (_openCount == JournalBlockFormat.EntriesPerBlock)
            WriteOpenBlock(); // a full block goes out at once; it is durable at the next flush
        return point;
    }

    /// <summary>Makes every appended entry durable: write the open block if it changed, then flush.</summary>
    public void Commit()
    {
        if (_writtenCount != _openCount && _openCount > 0)
            WriteOpenBlock();
        if (_unflushed)
        {
            _device.Flush();
            _unflushed = false;
        }
        _durableEntries = _writtenPoint;
    }

    /// <summary>
    /// Called after a checkpoint has made every appended entry's effect durable in the metadata:
    /// the ring up to here can be reused (I6). Starts a new block.
    /// </summary>
    public void Reclaim()
    {
        if (_openCount > 0)
            Advance();
        ReplayFrom = OpenSequence;
        _durableEntries = _writtenPoint = AppendedEntries;
    }

    private void Advance()
    {
        if (_writtenCount != _openCount)
            WriteOpenBlock();
        if ((long)(OpenSequence + 1 - ReplayFrom) >= _geometry.JournalBlocks)
            throw new InvalidOperationException("recovery journal ring is full: a checkpoint was missed (bug)");
        OpenSequence++;
        _openCount = 0;
        _writtenCount = -1;
        Array.Clear(_open);
    }

    private void WriteOpenBlock()
    {
        // Preflush: the data and every earlier journal block this block depends on become durable
        // before it can be (I1, and no hole in the ring).
        _device.Flush();
        _durableEntries = _writtenPoint;
        JournalBlockFormat.Seal(_open, OpenSequence, _openCount, _geometry.Nonce);
        _device.Write(Location(OpenSequence), _open);
        _writtenCount = _openCount;
        _writtenPoint = AppendedEntries;
        _unflushed = true;
        BlockWrites++;
    }

    /// <summary>Ring position of block <paramref name="sequence"/>.</summary>
    public long Location(ulong sequence) => _geometry.JournalStart + (long)(sequence % (ulong)_geometry.JournalBlocks);

    /// <summary>
    /// Reads the journal from <paramref name="from"/> to its end (a stale, torn or incomplete block)
    /// and returns the valid entries in order and the sequence of the first block after them.
    /// </summary>
    public static List<JournalEntry> ReadForRecovery(IBlockDevice device, Geometry geometry, ulong from, out ulong next)
    {
        var entries = new List<JournalEntry>();
        var block = new byte[VdoConstants.BlockSize];
        var sequence = from;
        for (long n = 0; n < geometry.JournalBlocks; n++, sequence++)
        {
            device.Read(geometry.JournalStart + (long)(sequence % (ulong)geometry.JournalBlocks), block);
            var count = JournalBlockFormat.Parse(block, sequence, geometry.Nonce, out var complete);
            for (var i = 0; i < count; i++)
                entries.Add(JournalEntry.Decode(block.AsSpan(JournalBlockFormat.EntryOffset(i), JournalEntry.EncodedSize)));
            if (!complete)
            {
                // Never reuse the sequence of the block that ended the journal: its slot may still
                // hold sectors of that same sequence from before the crash, and a later torn
                // rewrite could bring them back. The next block's slot holds nothing of it: it was
                // never written (every journal write flushes the block before it first).
                next = sequence + 1;
                return entries;
            }
        }
        next = sequence;
        return entries;
    }
}
