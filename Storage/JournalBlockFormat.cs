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

    /// <summary>Fills every sector header of a block holding <paramref name="count"/> entries.</summary>
    public static void Seal(Span<byte> block, ulong sequence, int count, ulong nonce)
    {
        for (var s = 0; s < SectorsPerBlock; s++)
        {
            var sector = block.Slice(s * VdoConstants.SectorSize, VdoConstants.SectorSize);
            var inSector = Math.Clamp(count - (s * EntriesPerSector), 0, EntriesPerSector);
            BinaryPrimitives.WriteUInt64LittleEndian(sector, sequence);
            BinaryPrimitives.WriteUInt32LittleEndian(sector[8..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(sector[12..], (ushort)inSector);
            sector[14] = (byte)VdoConstants.FormatVersion;
            sector[15] = 0;
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

    private static uint Checksum(ReadOnlySpan<byte> sector, ulong nonce)
    {
        Span<byte> seed = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(seed, nonce);
        return Checksums.Compute(seed, sector[..8], Checksums.ZeroField, sector[12..]);
    }
}
