using System.Diagnostics;
using DataflowVdo.Blocks.Chunking;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline.Backup;

/// <summary>
/// <c>dvdo ingest</c>: streams an input into a new backup image. One thread reads the stream,
/// lays it out in segments of whole blocks (<c>cdc</c>: each chunk on a
/// block boundary, its tail zero-padded; <c>fixed</c>: as is) while a <see cref="StreamHasher"/>
/// computes its SHA-256 on a thread of its own; a <see cref="SegmentWriter"/>
/// writes them through the volume at queue depth <see cref="IngestSettings.Writers"/>. Then the
/// chunk map and manifest are written after the data, everything is flushed, and the pending
/// record becomes the image (<see cref="Volume.CommitBackup"/>). Any failure (input error, full
/// pool, cancellation) rolls the pending record back; a crash leaves it to the next open.
/// </summary>
public static class BackupIngest
{
    /// <summary>
    /// Ingests <paramref name="input"/> as backup <paramref name="name"/>. <paramref name="knownLength"/>
    /// (when the input's size is known) bounds the extent it reserves; otherwise it reserves the
    /// largest free one. Throws <see cref="ArgumentException"/> for a bad or taken name (before
    /// anything is written), and whatever the input, the volume or <paramref name="cancellation"/> throws.
    /// </summary>
    public static IngestResult Run(Volume volume, string name, Stream input, long? knownLength, IngestSettings settings,
        IngestProgress? progress = null, CancellationToken cancellation = default)
    {
        var watch = Stopwatch.StartNew();
        progress ??= new IngestProgress();
        var chunker = new GearChunker(GearTable.ForPool(volume.Geometry.Nonce), settings.Chunker);
        var pending = volume.BeginBackup(name, knownLength is { } l ? settings.MaxBlocks(l) : null);
        try
        {
            var storedBefore = volume.DataBlocksUsedNow();
            var maxChunkBlocks = (settings.Chunker.MaxBytes + VdoConstants.BlockSize - 1) / VdoConstants.BlockSize;
            using var hasher = new StreamHasher();
            var writer = new SegmentWriter(volume, pending, Math.Max(settings.RequestBlocks, maxChunkBlocks), settings.Writers, progress, storedBefore, hasher);
            var lengths = new List<int>();
            long dataBlocks;
            try
            {
                dataBlocks = settings.Alignment != BackupAlignment.Fixed
                    ? LayOutChunks(input, chunker, settings.Alignment == BackupAlignment.Hybrid ? new AlignedDuplicates() : null, writer, hasher, lengths, progress, cancellation)
                    : LayOutFixed(input, writer, hasher, progress, cancellation);
            }
            catch
            {
                writer.Abandon();
                throw;
            }
            writer.Complete();
            volume.Flush(); // the packer's last bins count towards what was stored
            var manifest = new BackupManifest
            {
                StreamLength = progress.BytesRead,
                Sha256 = hasher.Finish(),
                Alignment = settings.Alignment,
                ChunkSizes = settings.Alignment != BackupAlignment.Fixed ? (settings.Chunker.MinBytes, settings.Chunker.AverageBytes, settings.Chunker.MaxBytes) : (0, 0, 0),
                DataBlocks = dataBlocks,
                StoredBlocks = Math.Max(0, volume.DataBlocksUsedNow() - storedBefore),
                ChunkLengths = settings.Alignment != BackupAlignment.Fixed ? [.. lengths] : [],
            };
            progress.SetStored(manifest.StoredBlocks);
            if (manifest.TotalBlocks > pending.ExtentBlocks)
                throw new VdoException($"backup '{name}' does not fit the logical space reserved for it ({pending.ExtentBlocks} blocks, {manifest.TotalBlocks} needed)");
            volume.WriteBlocks(pending.FirstLbn + dataBlocks, manifest.Encode(volume.Geometry.Nonce));
            var image = volume.CommitBackup(pending, manifest.TotalBlocks);
            return new IngestResult { Image = image, Manifest = manifest, Elapsed = watch.Elapsed };
        }
        catch (Exception e)
        {
            Rollback(volume, pending, e);
            throw;
        }
    }

    private static void Rollback(Volume volume, ImageEntry pending, Exception cause)
    {
        try
        {
            volume.AbortBackup(pending);
        }
        catch (Exception e) when (e is VdoException or IOException or InvalidOperationException)
        {
            // A read-only or failed volume: the pending record stays, and the next open discards it.
            cause.Data["dvdo.rollback"] = $"the partial backup is discarded at the next open of the pool ({e.Message})";
        }
    }

    private static long LayOutChunks(Stream input, GearChunker chunker, AlignedDuplicates? aligned, SegmentWriter writer, StreamHasher hasher,
        List<int> lengths, IngestProgress progress, CancellationToken cancellation)
    {
        var max = chunker.Parameters.MaxBytes;
        // Two windows in turn: while one is chunked, the hasher may still read the other; the bytes not
        // yet cut move from one to the other, and a window is refilled only once its bytes are hashed.
        var windows = new[] { new byte[Math.Max(4 << 20, 4 * max)], new byte[Math.Max(4 << 20, 4 * max)] };
        var hashed = new long[2];
        var current = 0;
        var window = windows[0];
        int start = 0, end = 0;
        var eof = false;
        var segment = writer.Rent();
        int used = 0; // blocks of the segment filled
        long offset = 0; // image block where the segment starts
        long streamOffset = 0; // where the next chunk starts in the stream
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            if (!eof && end - start < max)
            {
                var other = 1 - current;
                hasher.WaitFor(hashed[other]);
                window.AsSpan(start, end - start).CopyTo(windows[other]);
                end -= start;
                start = 0;
                current = other;
                window = windows[other];
                var from = end;
                eof = Fill(input, window, ref end, progress);
                hashed[current] = hasher.Append(window.AsMemory(from, end - from));
            }
            if (start == end)
                break;
            var cut = chunker.FindCut(window.AsSpan(start, end - start), eof);
            if (aligned is not null)
            {
                // hybrid: where the stream repeats 4 KiB-aligned blocks, chunks keep that alignment.
                if (aligned.PreferAligned)
                    cut = AlignedDuplicates.Snap(streamOffset, cut, end - start, eof, chunker.Parameters);
                aligned.Observe(window.AsSpan(start, cut));
            }
            streamOffset += cut;
            var blocks = (cut + VdoConstants.BlockSize - 1) / VdoConstants.BlockSize;
            if (used + blocks > writer.SegmentBlocks)
            {
                writer.Send(segment, offset, used);
                offset += used;
                segment = writer.Rent();
                used = 0;
            }
            var target = segment.AsSpan(used * VdoConstants.BlockSize, blocks * VdoConstants.BlockSize);
            window.AsSpan(start, cut).CopyTo(target);
            target[cut..].Clear(); // the chunk's last block is zero-padded
            used += blocks;
            lengths.Add(cut);
            start += cut;
        }
        if (used > 0)
            writer.Send(segment, offset, used);
        return offset + used;
    }

    private static long LayOutFixed(Stream input, SegmentWriter writer, StreamHasher hasher, IngestProgress progress, CancellationToken cancellation)
    {
        long offset = 0;
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            var segment = writer.Rent();
            var filled = 0;
            var eof = Fill(input, segment, ref filled, progress);
            if (filled == 0)
                return offset;
            var ticket = hasher.Append(segment.AsMemory(0, filled));
            var blocks = (filled + VdoConstants.BlockSize - 1) / VdoConstants.BlockSize;
            segment.AsSpan(filled, (blocks * VdoConstants.BlockSize) - filled).Clear();
            writer.Send(segment, offset, blocks, ticket);
            offset += blocks;
            if (eof)
                return offset;
        }
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends (returns true at the end).</summary>
    private static bool Fill(Stream input, byte[] buffer, ref int end, IngestProgress progress)
    {
        while (end < buffer.Length)
        {
            var n = input.Read(buffer, end, buffer.Length - end);
            if (n == 0)
                return true;
            progress.AddRead(n);
            end += n;
        }
        return false;
    }
}
