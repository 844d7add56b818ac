using DataflowVdo.Storage;
using K4os.Compression.LZ4;

namespace DataflowVdo.Blocks;

/// <summary>
/// Step "compress": LZ4 (fast) into the request's fragment buffer. A block is packed when its
/// fragment fits a packed block beside the header; a fragment stored alone costs no more space
/// than the raw block, so every fragment that fits is a chance to save. Stateless; safe in parallel.
/// </summary>
public sealed class CompressStep
{
    /// <summary>Largest fragment that can be packed.</summary>
    public const int MaxFragment = PackedBlock.Capacity;

    /// <summary>Runs the step; sets <see cref="DataVio.FragmentSize"/> (0 = store uncompressed).</summary>
    public void Run(DataVio vio) => vio.FragmentSize = Compress(vio.Data.AsSpan(0, VdoConstants.BlockSize), vio.Fragment);

    /// <summary>
    /// The step on a caller's block before it has a request: compresses <paramref name="block"/>
    /// into <paramref name="fragment"/> (at least <see cref="MaxFragment"/> bytes) and returns the
    /// fragment's size, 0 when it would not fit a packed block.
    /// </summary>
    public static int Compress(ReadOnlySpan<byte> block, Span<byte> fragment)
    {
        var n = LZ4Codec.Encode(block, fragment[..MaxFragment], LZ4Level.L00_FAST);
        return n > 0 && n <= MaxFragment ? n : 0;
    }
}
