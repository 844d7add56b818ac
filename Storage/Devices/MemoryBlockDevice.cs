namespace DataflowVdo.Storage;

/// <summary>
/// A device held in memory, for tests and benchmarks. Every write is immediately "durable";
/// <see cref="Flush"/> only counts. Backed by one array per 1 MiB chunk so large devices don't
/// need one huge allocation, and untouched chunks cost nothing (reads return zeros).
/// </summary>
public sealed class MemoryBlockDevice : IBlockDevice
{
    private const int ChunkBlocks = 256;
    private const int ChunkBytes = ChunkBlocks * VdoConstants.BlockSize;
    private readonly byte[]?[] _chunks;
    private readonly Lock _grow = new();
    private long _flushes;

    /// <summary>
    /// Creates a zero-filled device of <paramref name="blockCount"/> blocks; with
    /// <paramref name="preallocate"/> all memory is taken now (benchmarks: no allocation while writing).
    /// </summary>
    public MemoryBlockDevice(long blockCount, bool preallocate = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockCount);
        BlockCount = blockCount;
        _chunks = new byte[]?[(blockCount + ChunkBlocks - 1) / ChunkBlocks];
        if (preallocate)
        {
            for (var i = 0; i < _chunks.Length; i++)
            {
                var chunk = new byte[ChunkBytes];
                // Touch every page now: first-touch page faults cost several µs per 4 KiB here
                // (measured), which would otherwise be charged to the first write of each block.
                for (var p = 0; p < ChunkBytes; p += 4096)
                    chunk[p] = 0xFF;
                Array.Clear(chunk);
                _chunks[i] = chunk;
            }
        }
    }

    /// <inheritdoc />
    public long BlockCount { get; }

    /// <summary>Number of flushes requested so far.</summary>
    public long Flushes => Interlocked.Read(ref _flushes);

    /// <inheritdoc />
    public void Read(long pbn, Span<byte> destination)
    {
        DeviceChecks.CheckRange(pbn, destination.Length, BlockCount);
        var offset = pbn * VdoConstants.BlockSize;
        while (!destination.IsEmpty)
        {
            var chunk = _chunks[offset / ChunkBytes];
            var within = (int)(offset % ChunkBytes);
            var n = Math.Min(destination.Length, ChunkBytes - within);
            if (chunk is null)
                destination[..n].Clear();
            else
                chunk.AsSpan(within, n).CopyTo(destination);
            destination = destination[n..];
            offset += n;
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
        var offset = pbn * VdoConstants.BlockSize;
        while (!source.IsEmpty)
        {
            var index = offset / ChunkBytes;
            var chunk = _chunks[index] ?? Grow(index);
            var within = (int)(offset % ChunkBytes);
            var n = Math.Min(source.Length, ChunkBytes - within);
            source[..n].CopyTo(chunk.AsSpan(within, n));
            source = source[n..];
            offset += n;
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
    public void Flush() => Interlocked.Increment(ref _flushes);

    /// <summary>Copies the whole device into a new array (for crash images in tests).</summary>
    public byte[] ToArray()
    {
        var all = new byte[BlockCount * VdoConstants.BlockSize];
        Read(0, all);
        return all;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private byte[] Grow(long index)
    {
        lock (_grow)
            return _chunks[index] ??= new byte[ChunkBytes];
    }
}
