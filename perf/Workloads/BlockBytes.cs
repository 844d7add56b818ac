using K4os.Compression.LZ4;

namespace DataflowVdo.Workloads;

/// <summary>
/// Facts about one 4 KiB block that every workload figure is built from: its size, whether it
/// is all zeros, and what LZ4 (level fast) makes of it.
/// </summary>
public static class BlockBytes
{
    /// <summary>The block size every workload uses.</summary>
    public const int Size = 4096;

    /// <summary>Scratch a caller needs for <see cref="Lz4CompressedSize"/>: LZ4's worst case for one block.</summary>
    public static readonly int Lz4ScratchSize = LZ4Codec.MaximumOutputSize(Size);

    /// <summary>True when every byte of <paramref name="block"/> is zero.</summary>
    public static bool IsZero(ReadOnlySpan<byte> block) => !block.ContainsAnyExcept((byte)0);

    /// <summary>
    /// The bytes LZ4 (level fast) needs for <paramref name="block"/>, capped at the block size
    /// because an incompressible block is stored raw. <paramref name="scratch"/> must hold
    /// <see cref="Lz4ScratchSize"/> bytes.
    /// </summary>
    public static int Lz4CompressedSize(ReadOnlySpan<byte> block, Span<byte> scratch)
    {
        int encoded = LZ4Codec.Encode(block, scratch, LZ4Level.L00_FAST);
        return encoded <= 0 || encoded > block.Length ? block.Length : encoded;
    }
}
