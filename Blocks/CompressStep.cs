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
    public void Run(DataVio vio)
    {
        var n = LZ4Codec.Encode(vio.Data.AsSpan(0, VdoConstants.BlockSize), vio.Fragment.AsSpan(0, MaxFragment), LZ4Level.L00_FAST);
        vio.FragmentSize = n > 0 && n <= MaxFragment ? n : 0;
    }
}
