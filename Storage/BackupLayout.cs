namespace DataflowVdo.Storage;

/// <summary>
/// Where each chunk of a backup's stream lies in its image: chunk <c>i</c> covers stream bytes
/// <c>[StreamOffset(i), StreamOffset(i) + Length(i))</c> and starts at image block
/// <c>BlockOffset(i)</c>. A <c>fixed</c> stream is laid out as 1 MiB chunks with no padding
/// between them (only the last block is padded). Immutable: safe to share between threads.
/// </summary>
public sealed class BackupLayout
{
    private readonly long[] _streamOffsets; // one more than the chunks: the stream length last
    private readonly long[] _blockOffsets;

    /// <summary>The layout a manifest describes.</summary>
    public BackupLayout(BackupManifest manifest)
    {
        Manifest = manifest;
        var lengths = manifest.Alignment != BackupAlignment.Fixed ? manifest.ChunkLengths : FixedChunks(manifest.StreamLength);
        _streamOffsets = new long[lengths.Length + 1];
        _blockOffsets = new long[lengths.Length + 1];
        for (var i = 0; i < lengths.Length; i++)
        {
            _streamOffsets[i + 1] = _streamOffsets[i] + lengths[i];
            _blockOffsets[i + 1] = _blockOffsets[i] + ((lengths[i] + VdoConstants.BlockSize - 1) / VdoConstants.BlockSize);
        }
    }

    /// <summary>The manifest this layout comes from.</summary>
    public BackupManifest Manifest { get; }

    /// <summary>Number of chunks.</summary>
    public int ChunkCount => _streamOffsets.Length - 1;

    /// <summary>Length of the stream.</summary>
    public long StreamLength => _streamOffsets[^1];

    /// <summary>Stream offset where chunk <paramref name="i"/> starts (<see cref="StreamLength"/> for <c>i = ChunkCount</c>).</summary>
    public long StreamOffset(int i) => _streamOffsets[i];

    /// <summary>Image block where chunk <paramref name="i"/> starts (the data blocks' count for <c>i = ChunkCount</c>).</summary>
    public long BlockOffset(int i) => _blockOffsets[i];

    /// <summary>Length of chunk <paramref name="i"/> in bytes.</summary>
    public int Length(int i) => (int)(_streamOffsets[i + 1] - _streamOffsets[i]);

    /// <summary>The chunk holding stream byte <paramref name="offset"/> (0 &lt;= offset &lt; length).</summary>
    public int FindChunk(long offset)
    {
        var i = Array.BinarySearch(_streamOffsets, offset);
        return i >= 0 ? Math.Min(i, ChunkCount - 1) : ~i - 1;
    }

    private static int[] FixedChunks(long length)
    {
        var count = (length + BackupManifest.FixedChunkBytes - 1) / BackupManifest.FixedChunkBytes;
        var lengths = new int[count];
        for (var i = 0; i < count; i++)
            lengths[i] = (int)Math.Min(BackupManifest.FixedChunkBytes, length - ((long)i * BackupManifest.FixedChunkBytes));
        return lengths;
    }
}
