using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>
/// The recovery-journal block format: eight self-checking 512-byte sectors, each with a 16-byte
/// header (block sequence, CRC-32 seeded with the pool nonce, entry count, version) and 31
/// entries. A block is rewritten as it fills (group commit); because every sector checks
/// itself, a write torn at 512 bytes leaves each sector either its old or its new version,
/// and both hold the entries that were durable before.
/// </summary>
public static class JournalBlockFormat
{
    /// <summary>Entries per 512-byte sector.</summary>
    public const int EntriesPerSector = (VdoConstants.SectorSize - SectorHeaderSize) / JournalEntry.EncodedSize; // 31

    /// <summary>Sectors per block.</summary>
    public const int SectorsPerBlock = VdoConstants.BlockSize / VdoConstants.SectorSize;

    /// <summary>Entries per 4 KiB block.</summary>
    public const int EntriesPerBlock = EntriesPerSector * SectorsPerBlock; // 248

    private const int SectorHeaderSize = 16;

    /// <summary>Byte offset of entry <paramref name="index"/> within a block.</summary>
    public static int EntryOffset(int index) =>
        (index / EntriesPerSector * VdoConstants.SectorSize) + SectorHeaderSize + (index % EntriesPerSector * JournalEntry.EncodedSize);

    /// <summary>
    /// Fills every sector header of a block holding <paramref name="count"/> entries.
    /// <paramref name="durableBelow"/>, when known, is the sequence below which every block was
    /// durable (complete) when this one was written; recovery uses it to tell a damaged durable
    /// block from a torn tail. It is kept in each sector's last header byte as the distance back
    /// plus one (0: not known, as in blocks written before it existed).
    /// </summary>
    public static void Seal(Span<byte> block, ulong sequence, int count, ulong nonce, ulong? durableBelow = null)
    {
        var witness = durableBelow is { } below && below <= sequence && sequence - below < byte.MaxValue
            ? (byte)(sequence - below + 1)
            : (byte)0;
        for (var s = 0; s < SectorsPerBlock; s++)
        {
            var sector = block.Slice(s * VdoConstants.SectorSize, VdoConstants.SectorSize);
            var inSector = Math.Clamp(count - (s * EntriesPerSector), 0, EntriesPerSector);
            BinaryPrimitives.WriteUInt64LittleEndian(sector, sequence);
            BinaryPrimitives.WriteUInt32LittleEndian(sector[8..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(sector[12..], (ushort)inSector);
            sector[14] = (byte)VdoConstants.FormatVersion;
            sector[15] = witness;
            // Unused entry slots are zeroed so a stale tail never looks like data.
            sector[(SectorHeaderSize + (inSector * JournalEntry.EncodedSize))..].Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(sector[8..], Checksum(sector, nonce));
        }
    }

    /// <summary>
    /// Reads the entries of a block expected to carry <paramref name="sequence"/>. Returns the
    /// number of valid entries (0 when the block is not that sequence) and whether the block is
    /// complete (all 248 entries): only a complete block can be followed by another.
    /// </summary>
    public static int Parse(ReadOnlySpan<byte> block, ulong sequence, ulong nonce, out bool complete)
    {
        var total = 0;
        complete = false;
        for (var s = 0; s < SectorsPerBlock; s++)
        {
            var sector = block.Slice(s * VdoConstants.SectorSize, VdoConstants.SectorSize);
            if (BinaryPrimitives.ReadUInt64LittleEndian(sector) != sequence
                || sector[14] != (byte)VdoConstants.FormatVersion
                || BinaryPrimitives.ReadUInt32LittleEndian(sector[8..]) != Checksum(sector, nonce))
                return total; // a torn or stale sector ends the journal
            int inSector = BinaryPrimitives.ReadUInt16LittleEndian(sector[12..]);
            if (inSector > EntriesPerSector)
                return total;
            total += inSector;
            if (inSector < EntriesPerSector)
                return total;
        }
        complete = true;
        return total;
    }

    /// <summary>
    /// Damage a torn write cannot explain: a sector that carries <paramref name="sequence"/> but
    /// fails its checksum or holds an impossible count. (A write torn at 512 bytes leaves each
    /// sector whole, old or new, so only damage breaks one.) Null when there is none.
    /// </summary>
    public static string? Damage(ReadOnlySpan<byte> block, ulong sequence, ulong nonce)
    {
        for (var s = 0; s < SectorsPerBlock; s++)
        {
            var sector = block.Slice(s * VdoConstants.SectorSize, VdoConstants.SectorSize);
            if (BinaryPrimitives.ReadUInt64LittleEndian(sector) != sequence)
                continue;
            if (BinaryPrimitives.ReadUInt32LittleEndian(sector[8..]) != Checksum(sector, nonce))
                return $"sector {s} fails its checksum";
            if (BinaryPrimitives.ReadUInt16LittleEndian(sector[12..]) > EntriesPerSector)
                return $"sector {s} claims {BinaryPrimitives.ReadUInt16LittleEndian(sector[12..])} entries";
        }
        return null;
    }

    /// <summary>
    /// For a valid block of <paramref name="sequence"/>: the sequence below which every block was
    /// durable when it was written (see <see cref="Seal"/>), or null when the block does not say.
    /// </summary>
    public static ulong? DurableBelow(ReadOnlySpan<byte> block, ulong sequence, ulong nonce)
    {
        var sector = block[..VdoConstants.SectorSize];
        if (BinaryPrimitives.ReadUInt64LittleEndian(sector) != sequence
            || BinaryPrimitives.ReadUInt32LittleEndian(sector[8..]) != Checksum(sector, nonce)
            || sector[15] == 0)
            return null;
        return sequence - (ulong)(sector[15] - 1);
    }

    private static uint Checksum(ReadOnlySpan<byte> sector, ulong nonce)
    {
        Span<byte> seed = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(seed, nonce);
        return Checksums.Compute(seed, sector[..8], Checksums.ZeroField, sector[12..]);
    }
}
