using DataflowVdo.Storage;

namespace DataflowVdo.Blocks;

/// <summary>
/// Step "verify": reads the block the index suggested and compares it byte for byte with the
/// new data (I4: the name is a hint, never a proof). Reads only; safe in parallel.
/// </summary>
public sealed class VerifyStep(IBlockDevice device)
{
    /// <summary>True when the candidate holds exactly the request's data (<see cref="DataVio.Data"/>).</summary>
    public bool Run(DataVio vio)
    {
        ReadCandidate(vio);
        return Matches(vio, vio.Data);
    }

    /// <summary>
    /// Reads the candidates of <paramref name="vios"/> (each pinned by its write): a candidate
    /// stored whole into the request's <see cref="DataVio.Scratch"/>, a packed one into its
    /// <see cref="DataVio.Fragment"/>. Runs of consecutive whole blocks, as a rewrite of data
    /// already in the pool finds them, go out as one vectored read (<paramref name="buffers"/>
    /// is the caller's reusable list for it).
    /// </summary>
    public void ReadCandidates(List<DataVio> vios, List<Memory<byte>> buffers)
    {
        for (var i = 0; i < vios.Count;)
        {
            var vio = vios[i];
            if (vio.Candidate.IsCompressed)
            {
                ReadCandidate(vio);
                i++;
                continue;
            }
            var first = vio.Candidate.Pbn;
            buffers.Clear();
            do
                buffers.Add(vios[i].Scratch);
            while (++i < vios.Count && !vios[i].Candidate.IsCompressed && vios[i].Candidate.Pbn == first + buffers.Count);
            if (buffers.Count == 1)
                device.Read(first, vio.Scratch);
            else
                device.Read(first, buffers);
        }
        buffers.Clear();
    }

    /// <summary>
    /// True when the candidate read by <see cref="ReadCandidates"/> holds exactly
    /// <paramref name="data"/>. A packed candidate is decompressed into the scratch buffer first.
    /// </summary>
    public static bool Matches(DataVio vio, ReadOnlySpan<byte> data)
    {
        var candidate = vio.Candidate;
        var scratch = vio.Scratch.AsSpan();
        if (candidate.IsCompressed)
        {
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
        return scratch.SequenceEqual(data);
    }

    private void ReadCandidate(DataVio vio)
    {
        if (vio.Candidate.IsCompressed)
            device.Read(vio.Candidate.Pbn, vio.Fragment);
        else
            device.Read(vio.Candidate.Pbn, vio.Scratch);
    }
}
