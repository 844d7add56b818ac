using DataflowVdo.Storage;

namespace DataflowVdo.Blocks;

/// <summary>One bin of the packer: fragments waiting to be written together as one packed block.</summary>
public sealed class PackerBin
{
    private readonly DataVio[] _fragments = new DataVio[VdoConstants.MaxFragmentsPerPackedBlock];

    /// <summary>Fragments held.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes of fragment data held.</summary>
    public int Used { get; private set; }

    /// <summary>Bytes still free.</summary>
    public int Free => PackedBlock.Capacity - Used;

    /// <summary>True when another fragment of <paramref name="size"/> bytes fits.</summary>
    public bool Fits(int size) => Count < VdoConstants.MaxFragmentsPerPackedBlock && size <= Free;

    /// <summary>The fragments, in slot order.</summary>
    public ReadOnlySpan<DataVio> Fragments => _fragments.AsSpan(0, Count);

    internal void Add(DataVio vio)
    {
        _fragments[Count++] = vio;
        Used += vio.FragmentSize;
        vio.Bin = this;
    }

    internal void Clear()
    {
        Array.Clear(_fragments, 0, Count);
        Count = 0;
        Used = 0;
    }
}
