using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>The named images of the pool (the catalog), under the volume's lock.</summary>
public sealed partial class Volume
{
    private ImageCatalog _catalog = null!; // set by Format/Open before the volume is handed out

    /// <summary>The images of the pool, in catalog order.</summary>
    public IReadOnlyList<ImageEntry> Images
    {
        get
        {
            lock (_sync)
                return _catalog.Images;
        }
    }

    /// <summary>The image called <paramref name="name"/>, or null.</summary>
    public ImageEntry? FindImage(string name)
    {
        lock (_sync)
            return _catalog.Find(name);
    }

    /// <summary>
    /// Creates an image of <paramref name="sizeBytes"/> (a multiple of 4096) in the first free
    /// extent of whole block-map pages; it reads as zeros. Durable when it returns. With
    /// <paramref name="growLogical"/>, a logical space too small for it is first grown
    /// (<see cref="GrowLogical"/>) just enough. Throws <see cref="ArgumentException"/> for a bad or
    /// duplicate name or size, <see cref="VdoException"/> when the logical space (or, growing, the
    /// most it can grow to) or the catalog is full.
    /// </summary>
    public ImageEntry CreateImage(string name, long sizeBytes, ImageKind kind = ImageKind.Block, bool growLogical = false)
    {
        lock (_sync)
        {
            CheckWritable();
            if (growLogical)
            {
                _catalog.CheckNew(name, sizeBytes, kind); // a bad request grows nothing
                GrowLogicalLocked(_catalog.LogicalBlocksToFit(sizeBytes), $"image '{name}' of {sizeBytes} bytes");
            }
            var entry = _catalog.Plan(name, sizeBytes, kind, DateTimeOffset.UtcNow);
            try
            {
                // Blocks written to these LBNs outside any image (raw LBN use) must not show through.
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
    /// Removes an image: discards its extent (the space comes back once no other image shares
    /// the blocks), makes that durable, then removes its catalog record. Durable when it returns;
    /// a crash part-way leaves the image listed and partly discarded, and removing it again finishes.
    /// </summary>
    public void RemoveImage(string name)
    {
        lock (_sync)
        {
            CheckWritable();
            var entry = _catalog.Get(name);
            CheckNotBeingRead(name);
            try
            {
                // The discards are durable before the record goes, so a later image in this extent never sees old data.
                UnmapExtent(entry);
                _catalog.Remove(entry, _z.MetadataWriter, _z.Device);
            }
            catch (Exception e) when (Failed(e))
            {
                throw;
            }
        }
    }

    /// <summary>Space figures of one image, from the block map of its extent.</summary>
    public ImageStatistics ImageStats(string name)
    {
        lock (_sync)
        {
            CheckOpen();
            CheckCountsLoaded();
            var entry = _catalog.Get(name);
            long written = 0, zero = 0, compressed = 0;
            var physical = 0.0;
            var end = entry.FirstLbn + entry.SizeBlocks;
            Quiet(() => _z.BlockMap.ForEachMapping(FirstPage(entry), EndPage(entry), (lbn, m) =>
            {
                if (lbn < entry.FirstLbn || lbn >= end)
                    return;
                written++;
                if (m.IsZero)
                {
                    zero++;
                    return;
                }
                if (m.IsCompressed)
                    compressed++;
                // Charge 1/r of a block shared by r mappings, so all images add up to the pool's data blocks.
                var r = _z.Geometry.IsDataBlock(m.Pbn) ? _z.Depot.GetCount(m.Pbn) : (byte)1;
                physical += r is 0 or VdoConstants.ProvisionalReferenceCount ? 1.0 : 1.0 / r;
            }, e => throw e));
            return new ImageStatistics
            {
                BlocksWritten = written,
                ZeroBlocks = zero,
                CompressedBlocks = compressed,
                PhysicalBlocks = physical,
            };
        }
    }

    /// <summary>Discards every mapped LBN of the extent and makes that durable (caller holds the lock).</summary>
    private void UnmapExtent(ImageEntry entry)
    {
        FlushScheduler(); // nothing of the extent may still wait in the packer
        var mapped = new List<long>();
        Quiet(() =>
        {
            for (var p = FirstPage(entry); p < EndPage(entry); p++)
            {
                if (_z.BlockMap.PagePbn(p) == 0)
                    continue; // never written: nothing to unmap
                _z.BlockMap.ForEachMapping(p, p + 1, (lbn, _) =>
                {
                    if (lbn >= entry.FirstLbn && lbn < entry.FirstLbn + entry.ExtentBlocks)
                        mapped.Add(lbn);
                }, e => throw e);
            }
        });
        foreach (var lbn in mapped)
            _driver.Discard(lbn, 1);
        if (mapped.Count > 0)
            FlushScheduler();
    }

    private static long FirstPage(ImageEntry entry) => entry.FirstLbn / Geometry.EntriesPerPage;

    private static long EndPage(ImageEntry entry) =>
        (entry.FirstLbn + entry.ExtentBlocks + Geometry.EntriesPerPage - 1) / Geometry.EntriesPerPage;
}
