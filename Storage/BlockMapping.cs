using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>
/// Where a logical block lives: a PBN and a state (unmapped, uncompressed, or compressed slot
/// 0..13), and the 32-bit checksum of the 4 KiB the block held when it was written (the low 32
/// bits of its name; 0 where no data block is referenced). Encoded in 9 bytes: VDO's 5 bytes
/// (36-bit PBN and a 4-bit state) and the checksum (docs/design.md, "Data checksums").
/// </summary>
public readonly record struct BlockMapping(long Pbn, MappingState State, uint Checksum = 0)
{
    /// <summary>Size of one encoded entry (block-map pages, new mapping of a journal entry).</summary>
    public const int EncodedSize = LocationSize + 4;

    /// <summary>Size of the encoding without the checksum (dedupe index records, old mapping of a journal entry).</summary>
    public const int LocationSize = 5;

    /// <summary>Largest PBN an entry can hold (2^36 - 1 blocks = 256 TiB).</summary>
    public const long MaxPbn = (1L << 36) - 1;

    /// <summary>Never written or discarded.</summary>
    public static BlockMapping Unmapped => default;

    /// <summary>The all-zero block: no physical block behind it.</summary>
    public static BlockMapping Zero => new(0, MappingState.Uncompressed);

    /// <summary>True for every state but <see cref="MappingState.Unmapped"/>.</summary>
    public bool IsMapped => State != MappingState.Unmapped;

    /// <summary>True for the zero block.</summary>
    public bool IsZero => State == MappingState.Uncompressed && Pbn == 0;

    /// <summary>True when the block is a fragment of a packed block.</summary>
    public bool IsCompressed => State >= MappingState.CompressedSlot0;

    /// <summary>True when a physical block is referenced (uncompressed data or a packed block).</summary>
    public bool HasPhysicalBlock => IsMapped && Pbn != 0;

    /// <summary>The fragment slot of a compressed mapping.</summary>
    public int Slot => State - MappingState.CompressedSlot0;

    /// <summary>The checksum kept for data named <paramref name="name"/>: its low 32 bits.</summary>
    public static uint ChecksumOf(UInt128 name) => (uint)name;

    /// <summary>An uncompressed mapping to <paramref name="pbn"/> of the data named <paramref name="name"/>.</summary>
    public static BlockMapping ForData(long pbn, UInt128 name) => new(pbn, MappingState.Uncompressed, ChecksumOf(name));

    /// <summary>A compressed mapping to slot <paramref name="slot"/> of packed block <paramref name="pbn"/> (no checksum: block-map pages' own mappings, tests).</summary>
    public static BlockMapping Compressed(long pbn, int slot) => new(pbn, (MappingState)((int)MappingState.CompressedSlot0 + slot));

    /// <summary>A compressed mapping to slot <paramref name="slot"/> of packed block <paramref name="pbn"/> holding the data named <paramref name="name"/> (checksum of the decompressed 4 KiB).</summary>
    public static BlockMapping Compressed(long pbn, int slot, UInt128 name) => Compressed(pbn, slot) with { Checksum = ChecksumOf(name) };

    /// <summary>This location with the checksum of the data named <paramref name="name"/> (a hint's mapping, whose data has that name).</summary>
    public BlockMapping WithName(UInt128 name) => HasPhysicalBlock ? this with { Checksum = ChecksumOf(name) } : this;

    /// <summary>This mapping without its checksum (where only the location matters).</summary>
    public BlockMapping Location => this with { Checksum = 0 };

    /// <summary>Writes the 9-byte encoding.</summary>
    public void Encode(Span<byte> destination)
    {
        EncodeLocation(destination);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[LocationSize..], Checksum);
    }

    /// <summary>Reads a 9-byte encoding.</summary>
    public static BlockMapping Decode(ReadOnlySpan<byte> source) =>
        DecodeLocation(source) with { Checksum = BinaryPrimitives.ReadUInt32LittleEndian(source[LocationSize..]) };

    /// <summary>Writes the 5-byte encoding of the location (no checksum).</summary>
    public void EncodeLocation(Span<byte> destination)
    {
        var packed = ((ulong)Pbn << 4) | (byte)State;
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)packed);
        destination[4] = (byte)(packed >> 32);
    }

    /// <summary>Reads a 5-byte location encoding (checksum 0).</summary>
    public static BlockMapping DecodeLocation(ReadOnlySpan<byte> source)
    {
        var packed = BinaryPrimitives.ReadUInt32LittleEndian(source) | ((ulong)source[4] << 32);
        return new BlockMapping((long)(packed >> 4), (MappingState)(packed & 0xF));
    }

    /// <inheritdoc />
    public override string ToString() => State switch
    {
        MappingState.Unmapped => "unmapped",
        MappingState.Uncompressed when Pbn == 0 => "zero",
        MappingState.Uncompressed => $"PBN {Pbn}",
        _ => $"PBN {Pbn} slot {Slot}",
    };
}
