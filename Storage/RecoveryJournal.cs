namespace DataflowVdo.Storage;

/// <summary>
/// The write-ahead log of every mapping change, in one global order, in a ring of blocks.
/// Entries are appended to an open block; <see cref="Commit"/> makes everything appended durable
/// (group commit: one block write and flush serves every entry appended since the last one).
/// Every journal block write is preceded by a device flush, so the data blocks (and earlier
/// journal blocks) an entry depends on are durable before the entry is (I1).
/// Full blocks are written in batches in the background (<see cref="BackgroundWrite"/>, in
/// <c>Storage/Devices/</c>: the thread is the device side's, the ring is this structure's) while
/// appends go on, as dm-vdo's journal writes while its zone thread carries on: the owner only
/// waits for it when the next batch is full before the last one is out, or to commit,
/// checkpoint or close. An error of the writer is thrown by the owner's next call here.
/// One owner at a time: callers serialize access.
/// </summary>
public sealed class RecoveryJournal
{
    private readonly IBlockDevice _device;
    private readonly Geometry _geometry;
    private readonly byte[] _open = GC.AllocateArray<byte>(VdoConstants.BlockSize, pinned: true);
    private int _openCount;
    private int _writtenCount = -1; // entries of the open block already on disk (not necessarily flushed)

    // Owned by the writer while a batch is out, by the owner otherwise.
    private bool _unflushed;
    private long _writtenPoint; // journal point just past the last entry written to the device
    private long _blockWrites;
    private long _durableEntries; // written by either, read at any time
    private readonly BackgroundWrite _writer;

    // Full blocks wait in a batch and go out together behind one preflush: a preflush per 4 KiB
    // block made every 248 writes wait for the device to flush everything written before
    // (measured: 1 MiB sequential writes through FUSE at 152 MB/s). The owner fills one batch
    // while the writer writes the other.
    private const int MaxQueuedBlocks = 32;
    private readonly int _queueLimit;
    private JournalBatch _filling = new();
    private JournalBatch _writing = new();
    private readonly List<ReadOnlyMemory<byte>> _vector = new(MaxQueuedBlocks);

    /// <summary>Starts appending at block <paramref name="sequence"/> (an empty block).</summary>
    public RecoveryJournal(IBlockDevice device, Geometry geometry, ulong sequence, ulong replayFrom)
    {
        _device = device;
        _geometry = geometry;
        _writer = new BackgroundWrite(() => WritePending(_writing, includeOpen: false));
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

    /// <summary>Every entry with a point below this is durable (the background writer may raise it at any time).</summary>
    public long DurableEntries => Volatile.Read(ref _durableEntries);

    /// <summary>Blocks in use between the replay start and the open block.</summary>
    public long BlocksInUse => (long)(OpenSequence - ReplayFrom) + 1;

    /// <summary>True when the ring is three-quarters full: time to checkpoint and reclaim (I6).</summary>
    public bool NeedsCheckpoint => BlocksInUse >= _geometry.JournalBlocks * 3L / 4;

    /// <summary>Journal block writes since this journal object was created (this open).</summary>
    public long BlockWrites => Interlocked.Read(ref _blockWrites);

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
        WaitForWriter();
        var openChanged = _writtenCount != _openCount && _openCount > 0;
        if (_filling.Count > 0 && openChanged)
        {
            // The full blocks first, then (behind the next preflush) the open block, which thereby
            // says they are durable: damage to them is then told from a torn tail (CheckEnd). One
            // more device flush, only when full blocks wait at a commit (at most once per 248 entries).
            WritePending(_filling, includeOpen: false);
            WritePending(_filling, includeOpen: true);
        }
        else if (_filling.Count > 0 || openChanged)
        {
            WritePending(_filling, includeOpen: true);
        }
        if (_unflushed)
        {
            _device.Flush();
            _unflushed = false;
        }
        Volatile.Write(ref _durableEntries, _writtenPoint);
    }

    /// <summary>
    /// Called after a checkpoint has made every appended entry's effect durable in the metadata:
    /// the ring up to here can be reused (I6). Starts a new block.
    /// </summary>
    public void Reclaim()
    {
        WaitForWriter();
        if (_openCount > 0)
            Advance();
        ReplayFrom = OpenSequence;
        _writtenPoint = AppendedEntries;
        Volatile.Write(ref _durableEntries, _writtenPoint);
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
        _writtenPoint = AppendedEntries;
        Volatile.Write(ref _durableEntries, _writtenPoint);
        return OpenSequence;
    }

    /// <summary>The ring before block <paramref name="sequence"/> can be reused (I6).</summary>
    public void Reclaim(ulong sequence) => ReplayFrom = Math.Max(ReplayFrom, sequence);

    /// <summary>True when another block can be opened without overrunning the ring.</summary>
    public bool HasRoom => (long)(OpenSequence + 2 - ReplayFrom) < _geometry.JournalBlocks;

    /// <summary>
    /// Waits until the background writer has no batch out, without throwing its error (closing
    /// the device: nothing may be writing to it then).
    /// </summary>
    public void WaitForWrites() => _writer.WaitQuietly();

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
        if (_filling.Count == _queueLimit)
            HandOff(); // the last hand-off failed (its error was thrown): throw it again, never overrun the batch
        var batch = _filling;
        var block = batch.Blocks[batch.Count];
        _open.CopyTo(block, 0);
        JournalBlockFormat.Seal(block, OpenSequence, _openCount, _geometry.Nonce);
        batch.Sequences[batch.Count++] = OpenSequence;
        _writtenCount = _openCount; // accounted for: it goes out with the batch
        if (batch.Count == _queueLimit)
            HandOff();
    }

    /// <summary>Gives the full batch to the writer (once it is done with the last one) and starts filling the other.</summary>
    private void HandOff()
    {
        WaitForWriter();
        (_filling, _writing) = (_writing, _filling);
        _writer.Start();
    }

    /// <summary>Waits for the writer to be done; throws its error (nothing more may be written after a failed batch: it would leave a hole in the ring).</summary>
    private void WaitForWriter() => _writer.Wait();

    /// <summary>
    /// Writes the batch's full blocks (and the open block when <paramref name="includeOpen"/>) in
    /// sequence order. The preflush first makes the data and every earlier journal block they
    /// depend on durable (I1, and no hole in the ring).
    /// </summary>
    private void WritePending(JournalBatch batch, bool includeOpen)
    {
        _device.Flush();
        Volatile.Write(ref _durableEntries, _writtenPoint);
        // Every block wholly written before the preflush is durable now: say so in each block
        // written behind it, so that recovery can tell a damaged durable block from a torn tail.
        var durableBelow = (ulong)(_writtenPoint / JournalBlockFormat.EntriesPerBlock);
        for (var i = 0; i < batch.Count; i++)
            JournalBlockFormat.Seal(batch.Blocks[i], batch.Sequences[i], JournalBlockFormat.EntriesPerBlock, _geometry.Nonce, durableBelow);
        _vector.Clear();
        var runStart = 0UL;
        for (var i = 0; i < batch.Count; i++)
        {
            // Consecutive ring slots go out as one vectored write; the ring's end starts a new run.
            if (_vector.Count > 0 && Location(batch.Sequences[i]) != Location(runStart) + _vector.Count)
            {
                _device.Write(Location(runStart), _vector);
                _vector.Clear();
            }
            if (_vector.Count == 0)
                runStart = batch.Sequences[i];
            _vector.Add(batch.Blocks[i]);
        }
        if (_vector.Count > 0)
            _device.Write(Location(runStart), _vector);
        Interlocked.Add(ref _blockWrites, batch.Count);
        if (batch.Count > 0)
            _writtenPoint = ((long)batch.Sequences[batch.Count - 1] + 1) * JournalBlockFormat.EntriesPerBlock;
        batch.Count = 0;
        if (includeOpen && _openCount > 0 && _openCount < JournalBlockFormat.EntriesPerBlock)
        {
            JournalBlockFormat.Seal(_open, OpenSequence, _openCount, _geometry.Nonce, durableBelow);
            _device.Write(Location(OpenSequence), _open);
            _writtenCount = _openCount;
            _writtenPoint = AppendedEntries;
            Interlocked.Increment(ref _blockWrites);
        }
        _unflushed = true;
    }

    /// <summary>
    /// Full blocks queued before they go out: at most 32, and at most 1/8 of a slab-journal ring,
    /// because everything queued becomes durable at once, and that burst of reference changes
    /// must fit the slab journals' spare half (see <see cref="SlabJournal.NeedsRefCountWrite"/>).
    /// </summary>
    public static int QueueLimit(Geometry geometry) => Math.Clamp(geometry.SlabJournalBlocks / 8, 1, MaxQueuedBlocks);

    /// <summary>Full blocks that go out together, in sequence order.</summary>
    private sealed class JournalBatch
    {
        public readonly byte[][] Blocks = CreateBlocks();
        public readonly ulong[] Sequences = new ulong[MaxQueuedBlocks];
        public int Count;

        private static byte[][] CreateBlocks()
        {
            var blocks = new byte[MaxQueuedBlocks][];
            for (var i = 0; i < MaxQueuedBlocks; i++)
                blocks[i] = GC.AllocateArray<byte>(VdoConstants.BlockSize, pinned: true);
            return blocks;
        }
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
                CheckEnd(device, geometry, block, sequence);
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

    /// <summary>
    /// The journal ends at block <paramref name="end"/>: refuse to recover when that end is damage
    /// rather than a torn tail (the entries after it, which were durable, would be lost without a
    /// word): a sector of it fails its checksum, or a block written later says it was durable.
    /// </summary>
    private static void CheckEnd(IBlockDevice device, Geometry geometry, byte[] endBlock, ulong end)
    {
        var location = geometry.JournalStart + (long)(end % (ulong)geometry.JournalBlocks);
        if (JournalBlockFormat.Damage(endBlock, end, geometry.Nonce) is { } damage)
            throw new CorruptMetadataException($"recovery journal block {end} (PBN {location})", $"{damage}: entries acknowledged as durable may be lost");
        var block = new byte[VdoConstants.BlockSize];
        for (var later = end + 1; later < end + (ulong)geometry.JournalBlocks; later++)
        {
            device.Read(geometry.JournalStart + (long)(later % (ulong)geometry.JournalBlocks), block);
            if (JournalBlockFormat.DurableBelow(block, later, geometry.Nonce) is { } below && below > end)
            {
                throw new CorruptMetadataException($"recovery journal block {end} (PBN {location})",
                    $"it is damaged, but block {later}, written after it was durable, is intact: entries acknowledged as durable would be lost");
            }
        }
    }
}
