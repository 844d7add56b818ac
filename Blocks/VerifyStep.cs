using DataflowVdo.Storage;

namespace DataflowVdo.Blocks;

/// <summary>
/// Step "verify": reads the block the index suggested and compares it byte for byte with the
/// new data (I4: the name is a hint, never a proof). Reads only; safe in parallel.
/// </summary>
public sealed class VerifyStep(IBlockDevice device)
{
    /// <summary>True when the candidate holds exactly the request's data.</summary>
    public bool Run(DataVio vio)
    {
        var candidate = vio.Candidate;
        var scratch = vio.Scratch.AsSpan();
        if (candidate.IsCompressed)
        {
            device.Read(candidate.Pbn, vio.Fragment);
            if (PackedBlock.FragmentCount(vio.Fragment) <= candidate.Slot)
                return false; // the hint points at a block that is no longer this packed block
            try
            {
                PackedBlock.Decompress(vio.Fragment, candidate.Slot, scratch, candidate.Pbn);
            }
            catch (CorruptMetadataException)
            {
                return false; // a stale hint may point at data that is no longer a packed block
            }
        }
        else
        {
            device.Read(candidate.Pbn, scratch);
        }
        return scratch.SequenceEqual(vio.Data);
    }
}
