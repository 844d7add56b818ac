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

    /// <summary>
    /// Lays the bin's fragments out as one packed block in <paramref name="packed"/> (header,
    /// fragments in order, zero tail), using <paramref name="sizes"/> as scratch for the header.
    /// </summary>
    public void Assemble(Span<byte> packed, Span<ushort> sizes)
    {
        var fragments = Fragments;
        var offset = PackedBlock.HeaderSize;
        for (var i = 0; i < fragments.Length; i++)
        {
            var f = fragments[i];
            f.Fragment.AsSpan(0, f.FragmentSize).CopyTo(packed[offset..]);
            sizes[i] = (ushort)f.FragmentSize;
            offset += f.FragmentSize;
        }
        packed[offset..].Clear();
        PackedBlock.WriteHeader(packed, sizes[..fragments.Length]);
    }
}
