using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>
/// The 32-byte header every metadata block starts with, and its checksum:
/// magic "DVDO", kind, format version, pool nonce, index within its structure, CRC-32.
/// Decoding validates all of it before anything reads the payload.
/// </summary>
public static class MetadataBlock
{
    /// <summary>Size of the header; the payload follows.</summary>
    public const int HeaderSize = 32;

    /// <summary>Bytes available after the header.</summary>
    public const int PayloadSize = VdoConstants.BlockSize - HeaderSize;

    private const uint Magic = 0x4F445644; // "DVDO" little-endian
    private const int ChecksumOffset = 24;

    /// <summary>The payload area of a block buffer.</summary>
    public static Span<byte> Payload(Span<byte> block) => block.Slice(HeaderSize, PayloadSize);

    /// <summary>The payload area of a block buffer.</summary>
    public static ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> block) => block.Slice(HeaderSize, PayloadSize);

    /// <summary>Writes the header and checksum over a filled payload.</summary>
    public static void Seal(Span<byte> block, MetadataKind kind, ulong nonce, long index)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(block, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(block[4..], (ushort)kind);
        BinaryPrimitives.WriteUInt16LittleEndian(block[6..], VdoConstants.FormatVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(block[8..], nonce);
        BinaryPrimitives.WriteInt64LittleEndian(block[16..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(block[ChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(block[28..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(block[ChecksumOffset..], Checksum(block));
    }

    /// <summary>
    /// Validates a block; returns null when it is good, else what is wrong with it.
    /// <paramref name="nonce"/> 0 skips the nonce check (used before the geometry is known).
    /// </summary>
    public static string? Validate(ReadOnlySpan<byte> block, MetadataKind kind, ulong nonce, long index)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(block) != Magic)
            return block.IndexOfAnyExcept((byte)0) < 0 ? "block is all zeros (never written)" : "bad magic number";
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(block[ChecksumOffset..]);
        if (stored != Checksum(block))
            return "checksum mismatch";
        var actualKind = (MetadataKind)BinaryPrimitives.ReadUInt16LittleEndian(block[4..]);
        if (actualKind != kind)
            return $"holds a {actualKind} block, expected {kind}";
        var version = BinaryPrimitives.ReadUInt16LittleEndian(block[6..]);
        if (version != VdoConstants.FormatVersion)
            return $"format version {version}, this build reads version {VdoConstants.FormatVersion}";
        if (nonce != 0 && BinaryPrimitives.ReadUInt64LittleEndian(block[8..]) != nonce)
            return "belongs to another pool (nonce mismatch)";
        var actualIndex = BinaryPrimitives.ReadInt64LittleEndian(block[16..]);
        if (actualIndex != index)
            return $"index {actualIndex}, expected {index}";
        return null;
    }

    /// <summary>The format version of a block that is whole (magic and checksum good) whatever its version, else null.</summary>
    public static int? SealedVersion(ReadOnlySpan<byte> block) =>
        BinaryPrimitives.ReadUInt32LittleEndian(block) == Magic && BinaryPrimitives.ReadUInt32LittleEndian(block[ChecksumOffset..]) == Checksum(block)
            ? BinaryPrimitives.ReadUInt16LittleEndian(block[6..])
            : null;

    /// <summary>Validates and throws <see cref="CorruptMetadataException"/> naming <paramref name="structure"/>.</summary>
    public static void Check(ReadOnlySpan<byte> block, MetadataKind kind, ulong nonce, long index, string structure)
    {
        var problem = Validate(block, kind, nonce, index);
        if (problem is not null)
            throw new CorruptMetadataException(structure, problem);
    }

    /// <summary>Reads the nonce stored in a header (geometry only; validate first).</summary>
    public static ulong ReadNonce(ReadOnlySpan<byte> block) => BinaryPrimitives.ReadUInt64LittleEndian(block[8..]);

    private static uint Checksum(ReadOnlySpan<byte> block) =>
        Checksums.Compute(block[..ChecksumOffset], Checksums.ZeroField, block[(ChecksumOffset + 4)..]);
}
