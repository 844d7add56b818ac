namespace DataflowVdo.Storage;

/// <summary>What a recovery-journal entry records.</summary>
public enum JournalEntryKind : byte
{
    /// <summary>LBN changed from <see cref="JournalEntry.Old"/> to <see cref="JournalEntry.New"/>.</summary>
    DataMapping = 1,
    /// <summary>Block-map leaf page <see cref="JournalEntry.Lbn"/> was allocated at <see cref="JournalEntry.New"/>'s PBN.</summary>
    BlockMapPage = 2,
}

/// <summary>One 16-byte recovery-journal entry: kind, 40-bit LBN (or page index), new and old mapping.</summary>
public readonly record struct JournalEntry(JournalEntryKind Kind, long Lbn, BlockMapping New, BlockMapping Old)
{
    /// <summary>Encoded size.</summary>
    public const int EncodedSize = 16;

    /// <summary>Writes the 16-byte encoding.</summary>
    public void Encode(Span<byte> d)
    {
        d[0] = (byte)Kind;
        d[1] = (byte)Lbn;
        d[2] = (byte)(Lbn >> 8);
        d[3] = (byte)(Lbn >> 16);
        d[4] = (byte)(Lbn >> 24);
        d[5] = (byte)(Lbn >> 32);
        New.Encode(d[6..]);
        Old.Encode(d[11..]);
    }

    /// <summary>Reads the 16-byte encoding.</summary>
    public static JournalEntry Decode(ReadOnlySpan<byte> s)
    {
        var lbn = s[1] | ((long)s[2] << 8) | ((long)s[3] << 16) | ((long)s[4] << 24) | ((long)s[5] << 32);
        return new JournalEntry((JournalEntryKind)s[0], lbn, BlockMapping.Decode(s[6..]), BlockMapping.Decode(s[11..]));
    }
}
