using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// Online logical growth (dm-vdo's <c>vdo growLogical</c>): the thin logical space gets larger
/// while the pool is open, up to what the block-map root, sized at format, can map.
/// </summary>
public sealed partial class Volume
{
    /// <summary>
    /// The largest logical size, in blocks, this pool can grow to: the block-map root region is
    /// sized at format for <see cref="FormatParameters.MaxLogicalBlocks"/> (by default 256 times
    /// the physical size).
    /// </summary>
    public long MaxLogicalBlocks => _z.Geometry.MaxLogicalBlocks;

    /// <summary>
    /// Grows the pool's thin logical space to <paramref name="logicalBlocks"/> blocks (no change when
    /// it is already that large); the new LBNs read as zeros and cost nothing until written.
    /// Durable and crash-safe: the one write is the next superblock copy, which records the new
    /// size (the superblock is written alternately to two blocks, so a crash or a torn write leaves
    /// either the old size or the new, never a mix), flushed before the size is used; every later
    /// superblock carries it. The block-map root blocks that map the new space were formatted empty,
    /// so nothing else is written, and recovery needs nothing new. Returns the size before.
    /// Throws <see cref="VdoException"/> above <see cref="MaxLogicalBlocks"/>,
    /// <see cref="ReadOnlyVolumeException"/> on a read-only volume.
    /// </summary>
    public long GrowLogical(long logicalBlocks)
    {
        lock (_sync)
        {
            CheckWritable();
            var before = _z.Geometry.LogicalBlocks;
            GrowLogicalLocked(logicalBlocks, $"a logical size of {logicalBlocks} blocks");
            return before;
        }
    }

    /// <summary>The logical size, in blocks, the pool needs for a new image of <paramref name="sizeBytes"/>: the current size when one fits.</summary>
    public long LogicalBlocksToFit(long sizeBytes)
    {
        lock (_sync)
        {
            CheckOpen();
            return _catalog.LogicalBlocksToFit(sizeBytes);
        }
    }

    /// <summary><see cref="GrowLogical"/> under the lock; <paramref name="what"/> names what needs the space in the error.</summary>
    private void GrowLogicalLocked(long logicalBlocks, string what)
    {
        var geometry = _z.Geometry;
        if (logicalBlocks <= geometry.LogicalBlocks)
            return;
        if (logicalBlocks > geometry.MaxLogicalBlocks)
            throw new VdoException($"{what} needs a logical size of {logicalBlocks} blocks ({logicalBlocks / 256} MiB), "
                + $"but this pool can grow to at most {geometry.MaxLogicalBlocks} blocks ({geometry.MaxLogicalBlocks / 256} MiB): "
                + "its block-map root is sized at format (by default for 256 times the physical size)");
        var grown = geometry.WithLogicalBlocks(logicalBlocks);
        try
        {
            Quiet(() =>
            {
                // Durable first: the superblock names the new size before anything can use it;
                // then the structures, and last the size that admits the new LBNs.
                _z.WriteSuperBlock(clean: false, indexSaved: _z.IndexSavedOnDisk, logicalBlocks: grown.LogicalBlocks);
                _z.BlockMap.GrowLogical(grown.LeafPages);
                _driver.LogicalGrown();
                _catalog.GrowLogical(grown);
                _z.Geometry = grown;
            });
        }
        catch (Exception e) when (Failed(e))
        {
            throw;
        }
    }
}
