using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// Reading the blocks of a backup image in bulk (restore): the block-map lookups of a whole run
/// under one acquisition of the lock, then the data reads and LZ4 decoding outside it, on the
/// caller's thread, so that several callers read and decode in parallel. A backup image is never
/// written after its commit, so its mappings cannot change under the caller; removing it is
/// refused while a read is outside the lock (the blocks could be reused).
/// </summary>
public sealed partial class Volume
{
    // Backup images (by name) with a bulk read outside the lock, and how many: RemoveImage refuses them.
    private readonly Dictionary<string, int> _extentReads = new(StringComparer.Ordinal);

    [ThreadStatic]
    private static BlockMapping[]? t_mappings;

    [ThreadStatic]
    private static byte[]? t_packed; // the packed block read last by this thread

    /// <summary>
    /// Reads <c>destination.Length / 4096</c> blocks of backup image <paramref name="backup"/>
    /// from its block <paramref name="offset"/> (zeros where nothing is mapped). Runs of adjacent
    /// physical blocks are read in one device read; a packed block shared by consecutive
    /// fragments is read once. With a zoned scheme the blocks are read through its pipeline
    /// (as <see cref="ReadBlocks"/> does). Throws <see cref="ArgumentException"/> when the image is not a
    /// committed backup of this pool (or was removed).
    /// </summary>
    public void ReadBackupBlocks(ImageEntry backup, long offset, Span<byte> destination)
    {
        if (destination.Length == 0 || destination.Length % VdoConstants.BlockSize != 0)
            ThrowLength(destination.Length);
        var count = destination.Length / VdoConstants.BlockSize;
        if (offset < 0 || offset + count > backup.SizeBlocks)
            throw new ArgumentOutOfRangeException(nameof(offset), $"blocks {offset}..{offset + count - 1} are outside backup '{backup.Name}' ({backup.SizeBlocks} blocks)");
        var lbn = backup.FirstLbn + offset;
        var start = VolumeMetrics.StartTiming();
        var inline = _mp is null;
        var mappings = !inline ? null : t_mappings is { } m && m.Length >= count ? m : t_mappings = new BlockMapping[Math.Max(count, 256)];
        lock (_sync)
        {
            CheckOpen();
            if (_catalog.Find(backup.Name) is not { Kind: ImageKind.Backup } current || current.FirstLbn != backup.FirstLbn)
                throw new ArgumentException($"no backup image named '{backup.Name}' in this pool (removed?)");
            if (inline)
            {
                try
                {
                    for (var i = 0; i < count; i++)
                        mappings![i] = _z.BlockMap.Get(lbn + i);
                }
                catch (CorruptMetadataException e)
                {
                    EnterReadOnly(e.Message);
                    throw;
                }
                _z.Counters.ReadsIn += count;
            }
            _extentReads[backup.Name] = _extentReads.GetValueOrDefault(backup.Name) + 1;
        }
        try
        {
            if (inline)
                ReadMapped(lbn, mappings.AsSpan(0, count), destination);
            else
                ReadCore(lbn, destination, count); // the zoned schemes read through their pipeline
        }
        catch (CorruptMetadataException e)
        {
            EnterReadOnly(e.Message);
            throw;
        }
        finally
        {
            lock (_sync)
            {
                var left = _extentReads[backup.Name] - 1;
                if (left == 0)
                    _extentReads.Remove(backup.Name);
                else
                    _extentReads[backup.Name] = left;
            }
        }
        if (inline)
            VolumeMetrics.RecordDuration(start, "read");
    }

    /// <summary>Throws when a bulk read of backup <paramref name="name"/> is in progress (caller holds the lock).</summary>
    private void CheckNotBeingRead(string name)
    {
        if (_extentReads.ContainsKey(name))
            throw new InvalidOperationException($"backup '{name}' is being read (a restore is running): remove it once that ends");
    }

    /// <summary>
    /// Reads the blocks <paramref name="mappings"/> name (those of the LBNs from
    /// <paramref name="firstLbn"/>) into <paramref name="destination"/>, outside the lock, and
    /// verifies each against its mapping's checksum as every read path does.
    /// </summary>
    private void ReadMapped(long firstLbn, ReadOnlySpan<BlockMapping> mappings, Span<byte> destination)
    {
        const int B = VdoConstants.BlockSize;
        var packed = t_packed ??= new byte[B];
        var packedPbn = -1L;
        for (var i = 0; i < mappings.Length;)
        {
            var m = mappings[i];
            if (!m.IsMapped || m.IsZero)
            {
                destination.Slice(i * B, B).Clear();
                i++;
            }
            else if (m.IsCompressed)
            {
                if (m.Pbn != packedPbn)
                {
                    _z.Device.Read(m.Pbn, packed);
                    packedPbn = m.Pbn;
                }
                PackedBlock.Decompress(packed, m.Slot, destination.Slice(i * B, B), m.Pbn);
                _z.ReadCheck.Verify(firstLbn + i, m, destination.Slice(i * B, B));
                i++;
            }
            else
            {
                // A run of blocks stored one after the other: one read.
                var first = i;
                while (++i < mappings.Length && mappings[i] is { IsCompressed: false, IsZero: false, IsMapped: true } next && next.Pbn == m.Pbn + (i - first))
                {
                }
                _z.Device.Read(m.Pbn, destination.Slice(first * B, (i - first) * B));
                for (var j = first; j < i; j++)
                    _z.ReadCheck.Verify(firstLbn + j, mappings[j], destination.Slice(j * B, B));
            }
        }
    }
}
