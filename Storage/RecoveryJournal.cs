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

    // Full blocks wait here and go out together behind one preflush: a preflush per 4 KiB block
    // made every 248 writes wait for the device to flush everything written before (measured:
    // 1 MiB sequential writes through FUSE at 152 MB/s).
    private const int MaxQueuedBlocks = 32;
    private readonly int _queueLimit;
    private readonly byte[][] _queued = CreateQueue();
    private readonly ulong[] _queuedSequence = new ulong[MaxQueuedBlocks];
    private readonly List<ReadOnlyMemory<byte>> _vector = new(MaxQueuedBlocks);
    private int _queuedCount;

    /// <summary>Starts appending at block <paramref name="sequence"/> (an empty block).</summary>
    public RecoveryJournal(IBlockDevice device, Geometry geometry, ulong sequence, ulong replayFrom)
    {
        _device = device;
        _geometry = geometry;
        _queueLimit = QueueLimit(geometry);
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
            QueueFullBlock();
        return point;
    }

    /// <summary>Makes every appended entry durable: write the open block if it changed, then flush.</summary>
    public void Commit()
    {
        if (_queuedCount > 0 || (_writtenCount != _openCount && _openCount > 0))
            WritePending(includeOpen: true);
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

    /// <summary>
    /// Starts a checkpoint while appends go on: commits, then starts a new block, whose sequence
    /// is returned. Once every effect of the entries before it is durable in the metadata, pass
    /// it to <see cref="Reclaim(ulong)"/>.
    /// </summary>
    public ulong BeginCheckpoint()
    {
        Commit();
        if (_openCount > 0)
            Advance();
        _durableEntries = _writtenPoint = AppendedEntries;
        return OpenSequence;
    }

    /// <summary>The ring before block <paramref name="sequence"/> can be reused (I6).</summary>
    public void Reclaim(ulong sequence) => ReplayFrom = Math.Max(ReplayFrom, sequence);

    /// <summary>True when another block can be opened without overrunning the ring.</summary>
    public bool HasRoom => (long)(OpenSequence + 2 - ReplayFrom) < _geometry.JournalBlocks;

    private void Advance()
    {
        if (_writtenCount != _openCount)
            QueueFullBlock();
        if ((long)(OpenSequence + 1 - ReplayFrom) >= _geometry.JournalBlocks)
            throw new InvalidOperationException("recovery journal ring is full: a checkpoint was missed (bug)");
        OpenSequence++;
        _openCount = 0;
        _writtenCount = -1;
        Array.Clear(_open);
    }

    private void QueueFullBlock()
    {
        var block = _queued[_queuedCount];
        _open.CopyTo(block, 0);
        JournalBlockFormat.Seal(block, OpenSequence, _openCount, _geometry.Nonce);
        _queuedSequence[_queuedCount++] = OpenSequence;
        _writtenCount = _openCount; // accounted for: it goes out with the queue
        if (_queuedCount == _queueLimit)
            WritePending(includeOpen: false);
    }

    /// <summary>
    /// Writes the queued full blocks (and the open block when <paramref name="includeOpen"/>) in
    /// sequence order. The preflush first makes the data and every earlier journal block they
    /// depend on durable (I1, and no hole in the ring).
    /// </summary>
    private void WritePending(bool includeOpen)
    {
        _device.Flush();
        _durableEntries = _writtenPoint;
        _vector.Clear();
        var runStart = 0UL;
        for (var i = 0; i < _queuedCount; i++)
        {
            // Consecutive ring slots go out as one vectored write; the ring's end starts a new run.
            if (_vector.Count > 0 && Location(_queuedSequence[i]) != Location(runStart) + _vector.Count)
            {
                _device.Write(Location(runStart), _vector);
                _vector.Clear();
            }
            if (_vector.Count == 0)
                runStart = _queuedSequence[i];
            _vector.Add(_queued[i]);
        }
        if (_vector.Count > 0)
            _device.Write(Location(runStart), _vector);
        BlockWrites += _queuedCount;
        if (_queuedCount > 0)
            _writtenPoint = ((long)_queuedSequence[_queuedCount - 1] + 1) * JournalBlockFormat.EntriesPerBlock;
        _queuedCount = 0;
        if (includeOpen && _openCount > 0 && _openCount < JournalBlockFormat.EntriesPerBlock)
        {
            JournalBlockFormat.Seal(_open, OpenSequence, _openCount, _geometry.Nonce);
            _device.Write(Location(OpenSequence), _open);
            _writtenCount = _openCount;
            _writtenPoint = AppendedEntries;
            BlockWrites++;
        }
        _unflushed = true;
    }

    /// <summary>
    /// Full blocks queued before they go out: at most 32, and at most 1/8 of a slab-journal ring,
    /// because everything queued becomes durable at once, and that burst of reference changes
    /// must fit the slab journals' spare half (see <see cref="SlabJournal.NeedsRefCountWrite"/>).
    /// </summary>
    public static int QueueLimit(Geometry geometry) => Math.Clamp(geometry.SlabJournalBlocks / 8, 1, MaxQueuedBlocks);

    private static byte[][] CreateQueue()
    {
        var queue = new byte[MaxQueuedBlocks][];
        for (var i = 0; i < MaxQueuedBlocks; i++)
            queue[i] = GC.AllocateArray<byte>(VdoConstants.BlockSize, pinned: true);
        return queue;
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
                // The next incarnation starts a whole ring further on. The block that ended the
                // journal, and the blocks of its write batch after it, may have landed (whole or as
                // stray sectors) with sequences up to this one plus a batch; reusing any of those
                // sequences would let a later torn write resurrect them. Every slot then holds a
                // sequence below the new ones.
                next = sequence + (ulong)geometry.JournalBlocks;
                return entries;
            }
        }
        next = sequence;
        return entries;
    }
}
