using DataflowVdo.Storage;

namespace DataflowVdo.Blocks;

/// <summary>
/// The journal zone: appends recovery-journal entries in one global order and, once an entry
/// is durable, hands its reference changes to the slab depot in that same order (I3). Every
/// reference change takes effect only then: a block freed by an overwrite must not be reused
/// (and overwritten) while a crash could still bring back the old mapping to it, and ref-count
/// blocks written at any time say exactly what the slab journals say. One owner at a time;
/// <see cref="EnsureDurable"/> may also be called by a logical zone, so the journal's own
/// methods are serialized by a lock that its owner takes uncontended.
/// </summary>
public sealed class JournalZone(RecoveryJournal journal, SlabDepot depot)
{
    private readonly Queue<ReferenceChange> _pending = new(1024);
    private readonly Lock _lock = new();

    /// <summary>The journal behind this zone.</summary>
    public RecoveryJournal Journal => journal;

    /// <summary>Reference changes waiting for their journal entry to become durable.</summary>
    public int PendingChanges => _pending.Count;

    /// <summary>
    /// Where durable changes go. Null: applied to the depot at once (inline scheme, or a quiet
    /// volume). Otherwise handed over in journal order to the depot's owner (a physical zone).
    /// </summary>
    public IReferenceChangeSink? Sink { get; set; }

    /// <summary>The lock that serializes the journal (taken by every method here).</summary>
    public Lock SyncRoot => _lock;

    /// <summary>Appends an entry; returns its journal point.</summary>
    public long Append(in JournalEntry entry)
    {
        lock (_lock)
            return journal.Append(entry);
    }

    /// <summary>
    /// Queues the slab-journal record of a change caused by the entry at <paramref name="point"/>;
    /// an increment gives back <paramref name="release"/> reservations its group did not use.
    /// </summary>
    public void Defer(long point, SlabJournalOperation operation, long pbn, int release = 0)
    {
        lock (_lock)
            _pending.Enqueue(new ReferenceChange(SlabJournalEntry.KeyOf(point, operation), pbn, operation, release));
    }

    /// <summary>Makes every entry durable (group commit) and hands over the changes that waited for it.</summary>
    public void Commit()
    {
        lock (_lock)
        {
            journal.Commit();
            ApplyDurableLocked();
        }
    }

    /// <summary>Makes the journal durable through <paramref name="point"/> (block-map page eviction, I2).</summary>
    public void EnsureDurable(long point)
    {
        if (point < Volatile.Read(ref _durable))
            return;
        lock (_lock)
        {
            if (point >= journal.DurableEntries)
            {
                journal.Commit();
                ApplyDurableLocked();
            }
        }
    }

    /// <summary>Hands over (inline: applies) the changes whose entries are durable, in journal order.</summary>
    public void ApplyDurable()
    {
        lock (_lock)
            ApplyDurableLocked();
    }

    private long _durable;

    private void ApplyDurableLocked()
    {
        var durable = journal.DurableEntries;
        Volatile.Write(ref _durable, durable);
        var sink = Sink;
        var any = false;
        while (_pending.TryPeek(out var c) && (c.Key >> 1) < durable)
        {
            _pending.Dequeue();
            if (sink is null)
                depot.Log(c.Operation, c.Pbn, c.Key, c.Release);
            else
                sink.Add(c);
            any = true;
        }
        if (any)
            sink?.Publish();
    }
}

/// <summary>One reference change waiting for (or handed over after) its journal entry's durability.</summary>
/// <param name="Key">Slab-journal key (journal point × 2, + 1 for a decrement): the order of application.</param>
/// <param name="Pbn">The block.</param>
/// <param name="Operation">Increment, decrement or block-map page.</param>
/// <param name="Release">For an increment: reservations its write group did not use, given back with it.</param>
public readonly record struct ReferenceChange(long Key, long Pbn, SlabJournalOperation Operation, int Release);

/// <summary>Receives durable reference changes in journal order (the physical zone's inbox).</summary>
public interface IReferenceChangeSink
{
    /// <summary>Adds one change (called in journal order, under the journal's lock).</summary>
    void Add(in ReferenceChange change);

    /// <summary>Called after a run of <see cref="Add"/>: the owner should apply them.</summary>
    void Publish();
}
