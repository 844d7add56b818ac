namespace DataflowVdo.Storage;

/// <summary>
/// A device over another that never writes to it: every write is kept in memory (per block) and
/// read back from there, and <see cref="Flush"/> does nothing. Lets a pool be opened, recovered
/// and checked without changing a byte of it (<c>dvdo check</c>, <c>dvdo stats</c>); the memory
/// held is what the open wrote (after an unclean shutdown: the recovered metadata).
/// </summary>
public sealed class InspectionDevice(IBlockDevice inner, bool ownsInner = false) : IBlockDevice
{
    private readonly Dictionary<long, byte[]> _written = [];
    private readonly Lock _sync = new();

    /// <inheritdoc />
    public long BlockCount => inner.BlockCount;

    /// <summary>Blocks written so far, all held in memory.</summary>
    public int BlocksHeld
    {
        get
        {
            lock (_sync)
                return _written.Count;
        }
    }

    /// <inheritdoc />
    public void Read(long pbn, Span<byte> destination)
    {
        DeviceChecks.CheckRange(pbn, destination.Length, BlockCount);
        inner.Read(pbn, destination);
        lock (_sync)
        {
            if (_written.Count == 0)
                return;
            for (var i = 0; i < destination.Length / VdoConstants.BlockSize; i++)
            {
                if (_written.TryGetValue(pbn + i, out var block))
                    block.CopyTo(destination.Slice(i * VdoConstants.BlockSize, VdoConstants.BlockSize));
            }
        }
    }

    /// <inheritdoc />
    public void Read(long pbn, IReadOnlyList<Memory<byte>> destinations)
    {
        foreach (var d in destinations)
        {
            Read(pbn, d.Span);
            pbn += d.Length / VdoConstants.BlockSize;
        }
    }

    /// <inheritdoc />
    public void Write(long pbn, ReadOnlySpan<byte> source)
    {
        DeviceChecks.CheckRange(pbn, source.Length, BlockCount);
        lock (_sync)
        {
            for (var i = 0; i < source.Length / VdoConstants.BlockSize; i++)
                _written[pbn + i] = source.Slice(i * VdoConstants.BlockSize, VdoConstants.BlockSize).ToArray();
        }
    }

    /// <inheritdoc />
    public void Write(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources)
    {
        foreach (var source in sources)
        {
            Write(pbn, source.Span);
            pbn += source.Length / VdoConstants.BlockSize;
        }
    }

    /// <inheritdoc />
    public void Flush()
    {
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (ownsInner)
            inner.Dispose();
    }
}
