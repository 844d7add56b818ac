using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>A reference-count change recorded in a slab journal.</summary>
public enum SlabJournalOperation : byte
{
    /// <summary>One more mapping to the block (a provisional block gets its first).</summary>
    Increment = 1,
    /// <summary>One mapping fewer.</summary>
    Decrement = 2,
    /// <summary>The block became a block-map page.</summary>
    BlockMapPage = 3,
}

/// <summary>
/// One 16-byte slab-journal entry: operation, block within the slab, and the recovery key that
/// orders it: <c>journal point × 2</c>, plus 1 for a decrement, so an increment and the decrement
/// of the same recovery-journal entry each have their own place in the one order (I3).
/// </summary>
public readonly record struct SlabJournalEntry(SlabJournalOperation Operation, int Sbn, long Key)
{
    /// <summary>Recovery key of an operation caused by the journal entry at <paramref name="point"/>.</summary>
    public static long KeyOf(long point, SlabJournalOperation operation) =>
        (point * 2) + (operation == SlabJournalOperation.Decrement ? 1 : 0);

    /// <summary>Writes the 16-byte encoding.</summary>
    public void Encode(Span<byte> d)
    {
        d[..JournalEntry.EncodedSize].Clear();
        d[0] = (byte)Operation;
        BinaryPrimitives.WriteInt32LittleEndian(d[4..], Sbn);
        BinaryPrimitives.WriteInt64LittleEndian(d[8..], Key);
    }

    /// <summary>Reads the 16-byte encoding.</summary>
    public static SlabJournalEntry Decode(ReadOnlySpan<byte> s) =>
        new((SlabJournalOperation)s[0], BinaryPrimitives.ReadInt32LittleEndian(s[4..]), BinaryPrimitives.ReadInt64LittleEndian(s[8..]));
}
