namespace DataflowVdo.Pipeline.Backup;

/// <summary>
/// Figures of an ingest in progress, updated by its threads and read by whoever shows progress
/// (any thread; each figure is read atomically, the set is not a consistent snapshot).
/// </summary>
public sealed class IngestProgress
{
    private long _bytesRead;
    private long _blocksWritten;
    private long _storedBlocks;

    /// <summary>Bytes of the stream read so far.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Logical blocks written so far (chunks with padding).</summary>
    public long BlocksWritten => Interlocked.Read(ref _blocksWritten);

    /// <summary>Blocks the pool's data space grew by so far (blocks still in the packer not counted).</summary>
    public long StoredBlocks => Interlocked.Read(ref _storedBlocks);

    /// <summary>
    /// Sets every figure at once: a client showing the progress of an ingest that a mount runs
    /// (it reports its figures over the live socket).
    /// </summary>
    public void Report(long bytesRead, long blocksWritten, long storedBlocks)
    {
        Interlocked.Exchange(ref _bytesRead, bytesRead);
        Interlocked.Exchange(ref _blocksWritten, blocksWritten);
        Interlocked.Exchange(ref _storedBlocks, storedBlocks);
    }

    internal void AddRead(long bytes) => Interlocked.Add(ref _bytesRead, bytes);

    internal void AddWritten(long blocks) => Interlocked.Add(ref _blocksWritten, blocks);

    internal void SetStored(long blocks) => Interlocked.Exchange(ref _storedBlocks, blocks);
}
