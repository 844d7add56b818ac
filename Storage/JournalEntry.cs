namespace DataflowVdo.Storage;

/// <summary>What a recovery-journal entry records.</summary>
public enum JournalEntryKind : byte
{
    /// <summary>LBN changed from <see cref="JournalEntry.Old"/> to <see cref="JournalEntry.New"/>.</summary>
    DataMapping = 1,
    /// <summary>Block-map leaf page <see cref="JournalEntry.Lbn"/> was allocated at <see cref="JournalEntry.New"/>'s PBN.</summary>
    BlockMapPage = 2,
}

/// <summary>
/// One 20-byte recovery-journal entry: kind, 40-bit LBN (or page index), the new mapping with its
/// data checksum (9 bytes: durable no later than the mapping, I1–I3) and the old mapping's
/// location (5 bytes: only its reference is dropped).
/// </summary>
public readonly record struct JournalEntry(JournalEntryKind Kind, long Lbn, BlockMapping New, BlockMapping Old)
{
    /// <summary>Encoded size.</summary>
    public const int EncodedSize = 20;

    /// <summary>Writes the 20-byte encoding.</summary>
    public void Encode(Span<byte> d)
    {
        d[0] = (byte)Kind;
        d[1] = (byte)Lbn;
        d[2] = (byte)(Lbn >> 8);
        d[3] = (byte)(Lbn >> 16);
        d[4] = (byte)(Lbn >> 24);
        d[5] = (byte)(Lbn >> 32);
        New.Encode(d[6..]);
        Old.EncodeLocation(d[(6 + BlockMapping.EncodedSize)..]);
    }

    /// <summary>Reads the 20-byte encoding.</summary>
    public static JournalEntry Decode(ReadOnlySpan<byte> s)
    {
        var lbn = s[1] | ((long)s[2] << 8) | ((long)s[3] << 16) | ((long)s[4] << 24) | ((long)s[5] << 32);
        return new JournalEntry((JournalEntryKind)s[0], lbn, BlockMapping.Decode(s[6..]), BlockMapping.DecodeLocation(s[(6 + BlockMapping.EncodedSize)..]));
    }
}
