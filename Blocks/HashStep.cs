using DataflowVdo.Storage;

namespace DataflowVdo.Blocks;

/// <summary>Step "zero-check + hash": marks all-zero blocks and names the others. Stateless; safe in parallel.</summary>
public sealed class HashStep(BlockNamer namer)
{
    /// <summary>Runs the step on a write.</summary>
    public void Run(DataVio vio)
    {
        var data = vio.Data.AsSpan(0, VdoConstants.BlockSize);
        vio.IsZero = data.IndexOfAnyExcept((byte)0) < 0;
        if (!vio.IsZero)
            vio.Name = namer(data);
    }
}
