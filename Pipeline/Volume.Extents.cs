using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// Reading the blocks of a backup image in bulk (restore): a run of blocks at a time through the
/// driver's read path (so the checksum of every block is verified as in any read), with several
/// callers in parallel. A backup image is never written after its commit; removing it is refused
/// while a read of it is in progress (its blocks could be reused under the reader).
/// </summary>
public sealed partial class Volume
{
    // Backup images (by name) with a bulk read in progress, and how many: RemoveImage refuses them.
    private readonly Dictionary<string, int> _extentReads = new(StringComparer.Ordinal);

    /// <summary>
    /// Reads <c>destination.Length / 4096</c> blocks of backup image <paramref name="backup"/>
    /// from its block <paramref name="offset"/> (zeros where nothing is mapped), as
    /// <see cref="ReadBlocks"/> does. Throws <see cref="ArgumentException"/> when the image is not a
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
        lock (_sync)
        {
            CheckOpen();
            if (_catalog.Find(backup.Name) is not { Kind: ImageKind.Backup } current || current.FirstLbn != backup.FirstLbn)
                throw new ArgumentException($"no backup image named '{backup.Name}' in this pool (removed?)");
            _extentReads[backup.Name] = _extentReads.GetValueOrDefault(backup.Name) + 1;
        }
        try
        {
            ReadCore(lbn, destination, count);
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
    }

    /// <summary>Throws when a bulk read of backup <paramref name="name"/> is in progress (caller holds the lock).</summary>
    private void CheckNotBeingRead(string name)
    {
        if (_extentReads.ContainsKey(name))
            throw new InvalidOperationException($"backup '{name}' is being read (a restore is running): remove it once that ends");
    }
}
