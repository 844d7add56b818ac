using System.Diagnostics;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline.Backup;

/// <summary>
/// <c>dvdo restore</c>: streams a backup image's original bytes to an output, reading runs of
/// whole chunks (about 1 MiB each) <c>readers</c> at a time and writing them in order without
/// their padding, while a <see cref="StreamHasher"/> hashes what was written on a thread of its own. The readers look their blocks up in one go and decode them
/// in parallel (<see cref="Volume.ReadBackupBlocks"/>). A SHA-256 that differs from the manifest's throws
/// <see cref="InvalidDataException"/> after the last byte; a block that fails its checksum throws it at once, naming the
/// bytes of the stream it held.
/// </summary>
public static class BackupRestore
{
    private const int RunBlocks = 256;

    /// <summary>Restores backup <paramref name="name"/> to <paramref name="output"/>; returns the bytes written and the time taken.</summary>
    public static (long Bytes, TimeSpan Elapsed) Run(Volume volume, string name, Stream output, int readers = 0,
        Action<long>? progress = null, CancellationToken cancellation = default)
    {
        var watch = Stopwatch.StartNew();
        var image = volume.FindImage(name) is { Kind: not ImageKind.Pending } found ? found : throw new ArgumentException($"no backup image named '{name}' in this pool");
        var layout = new BackupLayout(volume.ReadBackupManifest(image));
        readers = readers > 0 ? readers : Math.Max(4, 2 * Environment.ProcessorCount);
        // Buffers of runs being read, written or hashed: a bounded set, each reused once its bytes are hashed.
        var hashing = new Queue<(byte[] Buffer, long Ticket)>();
        var buffers = 0;
        var inFlight = new Queue<(int First, int End, byte[] Buffer, Task Read)>();
        var hasher = new StreamHasher();
        var next = 0;
        long written = 0;
        byte[] actual;
        try
        {
            while (next < layout.ChunkCount || inFlight.Count > 0)
            {
                cancellation.ThrowIfCancellationRequested();
                while (inFlight.Count < readers && next < layout.ChunkCount)
                {
                    var first = next;
                    var end = first + 1;
                    while (end < layout.ChunkCount && layout.BlockOffset(end + 1) - layout.BlockOffset(first) <= RunBlocks)
                        end++;
                    next = end;
                    var firstBlock = layout.BlockOffset(first);
                    var blocks = (int)(layout.BlockOffset(end) - firstBlock);
                    var buffer = Rent(hasher, hashing, ref buffers, 2 * readers, blocks);
                    inFlight.Enqueue((first, end, buffer, Task.Run(() => volume.ReadBackupBlocks(image, firstBlock, buffer.AsSpan(0, blocks * VdoConstants.BlockSize)), cancellation)));
                }
                var (from, to, data, read) = inFlight.Dequeue();
                try
                {
                    read.GetAwaiter().GetResult();
                }
                catch (DataChecksumException e)
                {
                    throw Damaged(name, image, layout, from, to, e);
                }
                // The run's chunks without their padding, moved together in place: one write and one
                // piece to hash per run instead of one per chunk (a chunk is 38 KiB on average).
                var length = 0;
                for (var i = from; i < to; i++)
                {
                    var at = (int)(layout.BlockOffset(i) - layout.BlockOffset(from)) * VdoConstants.BlockSize;
                    var chunk = layout.Length(i);
                    if (at != length)
                        data.AsSpan(at, chunk).CopyTo(data.AsSpan(length)); // overlapping moves are safe
                    length += chunk;
                }
                output.Write(data, 0, length);
                hashing.Enqueue((data, hasher.Append(data.AsMemory(0, length))));
                written += length;
                progress?.Invoke(written);
            }
            output.Flush();
            actual = hasher.Finish();
        }
        finally
        {
            // On an error, no read may outlive the call (the caller may close the volume next), nor the hashing of a buffer.
            foreach (var (_, _, _, read) in inFlight)
                ((IAsyncResult)read).AsyncWaitHandle.WaitOne();
            hasher.Dispose();
        }
        if (!actual.AsSpan().SequenceEqual(layout.Manifest.Sha256))
            throw new InvalidDataException($"backup '{name}' is damaged: the restored stream's SHA-256 {Convert.ToHexStringLower(actual)} differs from {Convert.ToHexStringLower(layout.Manifest.Sha256)} recorded at ingest");
        return (written, watch.Elapsed);
    }

    /// <summary>
    /// A buffer for a run of <paramref name="blocks"/> blocks: the oldest one whose bytes are hashed, a
    /// new one while fewer than <paramref name="limit"/> exist, else the oldest once it is hashed.
    /// </summary>
    private static byte[] Rent(StreamHasher hasher, Queue<(byte[] Buffer, long Ticket)> hashing, ref int buffers, int limit, int blocks)
    {
        if (hashing.Count > 0 && (buffers >= limit || hasher.IsHashed(hashing.Peek().Ticket)))
        {
            var (buffer, ticket) = hashing.Dequeue();
            hasher.WaitFor(ticket);
            if (buffer.Length >= blocks * VdoConstants.BlockSize)
                return buffer;
            buffers--; // a chunk longer than a run: its own buffer instead
        }
        buffers++;
        return new byte[Math.Max(blocks, RunBlocks) * VdoConstants.BlockSize];
    }

    /// <summary>The error for a block of the run of chunks [<paramref name="from"/>, <paramref name="to"/>) that failed its checksum: which bytes of the stream it holds.</summary>
    private static InvalidDataException Damaged(string name, ImageEntry image, BackupLayout layout, int from, int to, DataChecksumException e)
    {
        var block = e.Lbn - image.FirstLbn;
        var chunk = from;
        while (chunk + 1 < to && layout.BlockOffset(chunk + 1) <= block)
            chunk++;
        var start = layout.StreamOffset(chunk) + (block - layout.BlockOffset(chunk)) * VdoConstants.BlockSize;
        var end = Math.Min(start + VdoConstants.BlockSize, layout.StreamOffset(chunk + 1));
        return new InvalidDataException($"backup '{name}' is damaged: stream bytes {start}..{end - 1} cannot be restored ({e.Message})", e);
    }
}
