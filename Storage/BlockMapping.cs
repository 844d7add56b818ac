using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>
/// Where a logical block lives: a PBN and a state (unmapped, uncompressed, or compressed slot
/// 0..13). Encoded in 5 bytes as VDO does: 36-bit PBN and a 4-bit state.
/// </summary>
public readonly record struct BlockMapping(long Pbn, MappingState State)
{
    /// <summary>Size of one encoded entry.</summary>
    public const int EncodedSize = 5;

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

    /// <summary>A compressed mapping to slot <paramref name="slot"/> of packed block <paramref name="pbn"/>.</summary>
    public static BlockMapping Compressed(long pbn, int slot) => new(pbn, (MappingState)((int)MappingState.CompressedSlot0 + slot));

    /// <summary>Writes the 5-byte encoding.</summary>
    public void Encode(Span<byte> destination)
    {
        var packed = ((ulong)Pbn << 4) | (byte)State;
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)packed);
        destination[4] = (byte)(packed >> 32);
    }

    /// <summary>Reads a 5-byte encoding.</summary>
    public static BlockMapping Decode(ReadOnlySpan<byte> source)
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
