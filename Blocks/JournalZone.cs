using DataflowVdo.Storage;

namespace DataflowVdo.Blocks;

/// <summary>
/// The journal zone: appends recovery-journal entries in one global order and holds each
/// decrement until the entry that caused it is durable. A block freed by an overwrite must not
/// be reused (and overwritten) while a crash could still bring back the old mapping to it.
/// One owner at a time.
/// </summary>
public sealed class JournalZone(RecoveryJournal journal, SlabDepot depot)
{
    private readonly Queue<(long Point, long Pbn)> _decrements = new(1024);

    /// <summary>The journal behind this zone.</summary>
    public RecoveryJournal Journal => journal;

    /// <summary>Decrements waiting for their journal entry to become durable.</summary>
    public int PendingDecrements => _decrements.Count;

    /// <summary>
    /// Appends an entry; returns its journal point. Decrements that became durable meanwhile are
    /// not applied here: the caller applies its increment first (I3: a block verified for sharing
    /// must not be freed by an older decrement between the verify and the increment).
    /// </summary>
    public long Append(in JournalEntry entry) => journal.Append(entry);

    /// <summary>Queues the decrement of <paramref name="pbn"/> caused by the entry at <paramref name="point"/> (I3: after its increment).</summary>
    public void DeferDecrement(long point, long pbn) => _decrements.Enqueue((point, pbn));

    /// <summary>Makes every entry durable (group commit) and applies the decrements that waited for it.</summary>
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

    /// <summary>Applies the decrements whose entries are durable.</summary>
    public void ApplyDurable()
    {
        var durable = journal.DurableEntries;
        while (_decrements.TryPeek(out var d) && d.Point < durable)
        {
            _decrements.Dequeue();
            depot.Decrement(d.Pbn);
        }
    }
}
