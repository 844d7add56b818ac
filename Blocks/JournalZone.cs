using DataflowVdo.Storage;

namespace DataflowVdo.Blocks;

/// <summary>
/// The journal zone: appends recovery-journal entries in one global order and, once an entry
/// is durable, hands its reference changes to the slab journals in that same order (I3). A
/// decrement takes effect only then: a block freed by an overwrite must not be reused (and
/// overwritten) while a crash could still bring back the old mapping to it. One owner at a time.
/// </summary>
public sealed class JournalZone(RecoveryJournal journal, SlabDepot depot)
{
    private readonly Queue<(long Key, long Pbn, SlabJournalOperation Operation)> _pending = new(1024);

    /// <summary>The journal behind this zone.</summary>
    public RecoveryJournal Journal => journal;

    /// <summary>Reference changes waiting for their journal entry to become durable.</summary>
    public int PendingChanges => _pending.Count;

    /// <summary>
    /// Appends an entry; returns its journal point. Changes that became durable meanwhile are not
    /// applied here: the caller applies its own increment first (I3: a block verified for sharing
    /// must not be freed by an older decrement between the verify and the increment).
    /// </summary>
    public long Append(in JournalEntry entry) => journal.Append(entry);

    /// <summary>Queues the slab-journal record of a change caused by the entry at <paramref name="point"/>.</summary>
    public void Defer(long point, SlabJournalOperation operation, long pbn) =>
        _pending.Enqueue((SlabJournalEntry.KeyOf(point, operation), pbn, operation));

    /// <summary>Makes every entry durable (group commit) and logs the changes that waited for it.</summary>
    public void Commit()
    {
        journal.Commit();
        ApplyDurable();
    }

    /// <summary>Makes the journal durable through <paramref name="point"/>.</summary>
    public void EnsureDurable(long point)
    {
        if (point >= journal.DurableEntries)
            Commit();
    }

    /// <summary>Logs (and for decrements applies) the changes whose entries are durable, in journal order.</summary>
    public void ApplyDurable()
    {
        var durable = journal.DurableEntries;
        while (_pending.TryPeek(out var c) && (c.Key >> 1) < durable)
        {
            _pending.Dequeue();
            depot.Log(c.Operation, c.Pbn, c.Key);
        }
    }
}
