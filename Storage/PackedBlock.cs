using System.Buffers.Binary;
using K4os.Compression.LZ4;

namespace DataflowVdo.Storage;

/// <summary>
/// The packed-block format: a 32-byte header (magic "PK", version, fragment count, the 14
/// fragment sizes) followed by up to 14 LZ4 fragments back to back, each the compressed form
/// of one 4 KiB logical block.
/// </summary>
public static class PackedBlock
{
    /// <summary>Header size; fragments start here.</summary>
    public const int HeaderSize = 32;

    /// <summary>Bytes available for fragments.</summary>
    public const int Capacity = VdoConstants.BlockSize - HeaderSize;

    private const ushort Magic = 0x4B50;

    /// <summary>Writes the header for fragments of the given sizes (the fragments are already in place).</summary>
    public static void WriteHeader(Span<byte> block, ReadOnlySpan<ushort> sizes)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(block, Magic);
        block[2] = (byte)VdoConstants.FormatVersion;
        block[3] = (byte)sizes.Length;
        for (var i = 0; i < VdoConstants.MaxFragmentsPerPackedBlock; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(block[(4 + (2 * i))..], i < sizes.Length ? sizes[i] : (ushort)0);
    }

    /// <summary>Fragment slot count of a packed block, or -1 when the header is not valid.</summary>
    public static int FragmentCount(ReadOnlySpan<byte> block)
    {
        if (BinaryPrimitives.ReadUInt16LittleEndian(block) != Magic || block[2] != (byte)VdoConstants.FormatVersion)
            return -1;
        int count = block[3];
        if (count is < 1 or > VdoConstants.MaxFragmentsPerPackedBlock)
            return -1;
        var total = 0;
        for (var i = 0; i < count; i++)
            total += BinaryPrimitives.ReadUInt16LittleEndian(block[(4 + (2 * i))..]);
        return total > Capacity ? -1 : count;
    }

    /// <summary>
    /// Decompresses fragment <paramref name="slot"/> of the packed block at <paramref name="pbn"/>
    /// into a 4 KiB buffer; throws <see cref="CorruptMetadataException"/> naming the block when it
    /// cannot.
    /// </summary>
    public static void Decompress(ReadOnlySpan<byte> block, int slot, Span<byte> destination, long pbn)
    {
        var count = FragmentCount(block);
        if (count < 0)
            throw new CorruptMetadataException($"packed block at PBN {pbn}", "bad packed-block header");
        if (slot >= count)
            throw new CorruptMetadataException($"packed block at PBN {pbn}", $"slot {slot} is beyond its {count} fragments");
        var offset = HeaderSize;
        for (var i = 0; i < slot; i++)
            offset += BinaryPrimitives.ReadUInt16LittleEndian(block[(4 + (2 * i))..]);
        int size = BinaryPrimitives.ReadUInt16LittleEndian(block[(4 + (2 * slot))..]);
        var n = LZ4Codec.Decode(block.Slice(offset, size), destination[..VdoConstants.BlockSize]);
        if (n != VdoConstants.BlockSize)
            throw new CorruptMetadataException($"packed block at PBN {pbn}", $"fragment {slot} does not decompress to 4096 bytes");
    }
}
