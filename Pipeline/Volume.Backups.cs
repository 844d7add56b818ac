using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// Backup images: an ingest holds a pending catalog record (its name and extent, in no listing)
/// while it writes; the record becomes a backup image only once data and manifest are durable,
/// in one atomic catalog-block write. An ingest that fails is rolled back; one interrupted by a
/// crash or kill leaves its pending record, which the next open discards with its extent.
/// </summary>
public sealed partial class Volume
{
    /// <summary>
    /// Reserves a pending backup record: <paramref name="blocks"/> logical blocks, or when null
    /// (a stream of unknown length) the largest free extent. Refuses a bad or duplicate name
    /// before anything is written. Durable when it returns.
    /// </summary>
    public ImageEntry BeginBackup(string name, long? blocks)
    {
        lock (_sync)
        {
            CheckWritable();
            var entry = ReserveBackupExtent(name, blocks);
            try
            {
                UnmapExtent(entry);
                _catalog.Add(entry, _z.MetadataWriter, _z.Device);
            }
            catch (Exception e) when (Failed(e))
            {
                throw;
            }
            return entry;
        }
    }

    /// <summary>
    /// The one place an ingest obtains its logical extent (thin: it costs nothing until written),
    /// growing the logical space (<see cref="GrowLogical"/>) so that it never stops an ingest while
    /// physical space remains. Known length: exactly the most it can need. Unknown length (a pipe):
    /// half of what the logical space can still grow by, at its end (the other half stays for
    /// images created meanwhile), or the largest free extent if that is larger.
    /// </summary>
    private ImageEntry ReserveBackupExtent(string name, long? blocks)
    {
        var now = DateTimeOffset.UtcNow;
        if (blocks is { } n)
        {
            var bytes = Math.Max(1, n) * VdoConstants.BlockSize;
            _catalog.CheckNew(name, bytes, ImageKind.Pending); // a bad request grows nothing
            GrowLogicalLocked(_catalog.LogicalBlocksToFit(bytes), $"backup '{name}' of up to {bytes} bytes");
            return _catalog.Plan(name, bytes, ImageKind.Pending, now);
        }
        _catalog.CheckNew(name, VdoConstants.BlockSize, ImageKind.Pending);
        var end = ExtentsEnd();
        var half = (_z.Geometry.MaxLogicalBlocks - end) / 2 / Geometry.EntriesPerPage * Geometry.EntriesPerPage;
        if (half > 0)
            GrowLogicalLocked(Math.Max(_z.Geometry.LogicalBlocks, end + half), $"backup '{name}' of unknown length");
        return _catalog.PlanLargest(name, now);
    }

    /// <summary>The first LBN after every extent, on a block-map page boundary.</summary>
    private long ExtentsEnd()
    {
        var end = _catalog.Images.Concat(_catalog.Pending).Select(e => e.FirstLbn + e.ExtentBlocks).DefaultIfEmpty(0).Max();
        return (end + Geometry.EntriesPerPage - 1) / Geometry.EntriesPerPage * Geometry.EntriesPerPage;
    }

    /// <summary>
    /// Makes every write durable, then turns the pending record into a backup image of
    /// <paramref name="blocks"/> blocks (data, chunk map, manifest) in one atomic catalog write.
    /// </summary>
    public ImageEntry CommitBackup(ImageEntry pending, long blocks)
    {
        Flush();
        lock (_sync)
        {
            CheckWritable();
            if (blocks > pending.ExtentBlocks)
                throw new ArgumentOutOfRangeException(nameof(blocks), $"backup of {blocks} blocks exceeds its reserved extent of {pending.ExtentBlocks}");
            var committed = _catalog.Shrunk(pending, blocks, ImageKind.Backup);
            try
            {
                _catalog.Replace(pending, committed, _z.MetadataWriter, _z.Device);
            }
            catch (Exception e) when (Failed(e))
            {
                throw;
            }
            return committed;
        }
    }

    /// <summary>
    /// Rolls back a pending backup: discards whatever it wrote and removes its record. If this
    /// fails too (a read-only volume), the next open does it.
    /// </summary>
    public void AbortBackup(ImageEntry pending)
    {
        lock (_sync)
        {
            CheckWritable();
            try
            {
                UnmapExtent(pending);
                _catalog.Remove(pending, _z.MetadataWriter, _z.Device);
            }
            catch (Exception e) when (Failed(e))
            {
                throw;
            }
        }
    }

    /// <summary>Pending backups left by an ingest that was killed or crashed: discarded at open.</summary>
    private void DiscardPendingBackups()
    {
        List<ImageEntry> pending;
        lock (_sync)
            pending = [.. _catalog.Pending];
        foreach (var entry in pending)
            AbortBackup(entry);
    }

    /// <summary>Reads and validates the manifest of backup image <paramref name="entry"/>.</summary>
    public BackupManifest ReadBackupManifest(ImageEntry entry)
    {
        if (entry.Kind != ImageKind.Backup)
            throw new ArgumentException($"image '{entry.Name}' is not a backup");
        return BackupManifest.Decode(entry.SizeBlocks, _z.Geometry.Nonce,
            (first, buffer) => ReadBlocks(entry.FirstLbn + first, buffer),
            $"manifest of backup image '{entry.Name}'");
    }

    /// <summary>Data blocks the pool holds now (counts what the packer still holds only after a flush).</summary>
    public long DataBlocksUsedNow() => SnapshotStatistics().DataBlocksUsed;
}
