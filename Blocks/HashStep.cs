using DataflowVdo.Storage;

namespace DataflowVdo.Blocks;

/// <summary>Step "zero-check + hash": marks all-zero blocks and names the others. Stateless; safe in parallel.</summary>
public sealed class HashStep(BlockNamer namer)
{
    /// <summary>Runs the step on a write.</summary>
    public void Run(DataVio vio)
    {
        vio.Name = Name(vio.Data.AsSpan(0, VdoConstants.BlockSize), out var isZero);
        vio.IsZero = isZero;
    }

    /// <summary>The step on a caller's block before it has a request: its name (0 for an all-zero block).</summary>
    public UInt128 Name(ReadOnlySpan<byte> block, out bool isZero)
    {
        isZero = block.IndexOfAnyExcept((byte)0) < 0;
        return isZero ? UInt128.Zero : namer(block);
    }
}
