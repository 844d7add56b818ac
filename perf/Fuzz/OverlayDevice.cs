using DataflowVdo.Storage;

namespace DataflowVdo.Fuzz;

/// <summary>A template pool seen through a few replaced blocks; writes land in the overlay, never in the template.</summary>
internal sealed class OverlayDevice(MemoryBlockDevice template) : IBlockDevice
{
    private readonly Dictionary<long, byte[]> _blocks = [];

    public long BlockCount => template.BlockCount;

    /// <summary>Replaces block <paramref name="pbn"/> with <paramref name="block"/> (exactly 4 KiB).</summary>
    public void Put(long pbn, byte[] block) => _blocks[pbn] = block;

    public void Read(long pbn, Span<byte> destination)
    {
        for (var i = 0; i < destination.Length / VdoConstants.BlockSize; i++)
        {
            var d = destination.Slice(i * VdoConstants.BlockSize, VdoConstants.BlockSize);
            if (_blocks.TryGetValue(pbn + i, out var b))
                b.CopyTo(d);
            else
                template.Read(pbn + i, d);
        }
    }

    public void Read(long pbn, IReadOnlyList<Memory<byte>> destinations)
    {
        foreach (var d in destinations)
        {
            Read(pbn, d.Span);
            pbn += d.Length / VdoConstants.BlockSize;
        }
    }

    public void Write(long pbn, ReadOnlySpan<byte> source)
    {
        for (var i = 0; i < source.Length / VdoConstants.BlockSize; i++)
            _blocks[pbn + i] = source.Slice(i * VdoConstants.BlockSize, VdoConstants.BlockSize).ToArray();
    }

    public void Write(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources)
    {
        foreach (var s in sources)
        {
            Write(pbn, s.Span);
            pbn += s.Length / VdoConstants.BlockSize;
        }
    }

    public void Flush()
    {
    }

    public void Dispose()
    {
    }
}
