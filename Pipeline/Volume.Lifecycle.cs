using System.Security.Cryptography;
using DataflowVdo.Config;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>Format, open and crash recovery.</summary>
public sealed partial class Volume
{
    /// <summary>Formats <paramref name="device"/> as a new, empty pool and opens it.</summary>
    public static Volume Format(IBlockDevice device, FormatParameters parameters, VdoOptions? options = null, VolumeHooks? hooks = null, bool ownsDevice = false)
    {
        options = (options ?? new VdoOptions()).EnsureValid();
        var nonce = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) | 1;
        var geometry = Geometry.Compute(parameters, device.BlockCount, nonce);
        var block = new byte[VdoConstants.BlockSize];

        // Wipe block 0 first: a half-formatted device must never look like a pool.
        device.Write(0, block);
        var writer = new MetadataWriter(device, geometry);
        var depot = SlabDepot.CreateEmpty(geometry);
        hooks ??= new VolumeHooks();
        var blockMap = BlockMap.CreateEmpty(device, geometry, CachePages(options, hooks), writer);
        const ulong FirstSequence = 1;
        var journal = new RecoveryJournal(device, geometry, FirstSequence, FirstSequence);
        var zones = Assemble(device, geometry, options, hooks, depot, blockMap, journal, new PersistentCounters(), writer);
        depot.WriteDirty(writer);
        blockMap.WriteDirty();
        WriteEmptyCatalog(writer, geometry, block);
        writer.Commit();
        zones.Index.Save(device, geometry);
        device.Flush();
        zones.WriteSuperBlock(clean: false, indexSaved: false);
        geometry.Encode(block);
        device.Write(0, block);
        device.Flush();
        return new Volume(zones, ownsDevice);
    }

    /// <summary>
    /// Opens a pool. After an unclean shutdown, replays the recovery journal into the block map,
    /// rebuilds the reference counts from it (provisional allocations are reclaimed) and takes a
    /// checkpoint before accepting I/O. Damaged metadata fails the open with a message naming it.
    /// </summary>
    public static Volume Open(IBlockDevice device, VdoOptions? options = null, VolumeHooks? hooks = null, bool ownsDevice = false)
    {
        options = (options ?? new VdoOptions()).EnsureValid();
        var block = new byte[VdoConstants.BlockSize];
        device.Read(0, block);
        var geometry = Geometry.Decode(block, device.BlockCount);
        var super = SuperBlock.Read(device, geometry.Nonce);
        if (!super.Clean)
            MetadataWriter.Restore(device, geometry); // repair metadata blocks a crash may have torn
        CheckCatalog(device, geometry, block);
        var writer = new MetadataWriter(device, geometry);
        hooks ??= new VolumeHooks();
        var blockMap = BlockMap.Load(device, geometry, CachePages(options, hooks), writer);
        var counters = super.Counters;
        Volume volume;
        if (super.Clean)
        {
            var depot = SlabDepot.Load(device, geometry);
            depot.SetBlockMapPageTotal(blockMap.AllocatedPages);
            var journal = new RecoveryJournal(device, geometry, super.JournalReplayFrom, super.JournalReplayFrom);
            var zones = Assemble(device, geometry, options, hooks, depot, blockMap, journal, counters, writer);
            zones.SuperBlockSequence = super.Sequence;
            zones.LogicalBlocksUsed = CountMapped(blockMap);
            volume = new Volume(zones, ownsDevice);
        }
        else
        {
            volume = Recover(device, geometry, super, blockMap, writer, options, hooks, ownsDevice);
        }
        if (super.IndexSaved)
            volume._z.Index.Load(device, geometry);
        // From now on a crash must be detected: mark the pool dirty (index save stays usable as hints).
        volume._z.WriteSuperBlock(clean: false, indexSaved: super.IndexSaved);
        return volume;
    }

    private static Volume Recover(IBlockDevice device, Geometry geometry, SuperBlock super, BlockMap blockMap, MetadataWriter writer, VdoOptions options, VolumeHooks hooks, bool ownsDevice)
    {
        var entries = RecoveryJournal.ReadForRecovery(device, geometry, super.JournalReplayFrom, out var next);
        foreach (var e in entries)
        {
            switch (e.Kind)
            {
                case JournalEntryKind.BlockMapPage:
                    if (e.Lbn >= blockMap.PageCount || !geometry.IsDataBlock(e.New.Pbn))
                        throw new CorruptMetadataException("recovery journal", $"entry allocates block-map page {e.Lbn} at PBN {e.New.Pbn}, which is impossible");
                    blockMap.InstallPage(e.Lbn, e.New.Pbn, 0);
                    break;
                case JournalEntryKind.DataMapping:
                    if (e.Lbn >= geometry.LogicalBlocks || (e.New.HasPhysicalBlock && !geometry.IsDataBlock(e.New.Pbn)))
                        throw new CorruptMetadataException("recovery journal", $"entry maps LBN {e.Lbn} to {e.New}, which is impossible");
                    if (blockMap.NeedsPage(e.Lbn))
                    {
                        if (e.New.IsMapped)
                            throw new CorruptMetadataException("recovery journal", $"entry maps LBN {e.Lbn} before its block-map page was allocated");
                        break;
                    }
                    blockMap.Set(e.Lbn, e.New, 0);
                    break;
                default:
                    throw new CorruptMetadataException("recovery journal", $"unknown entry kind {(int)e.Kind}");
            }
        }

        // Rebuild every reference count from the block map (VDO's forced rebuild): exact by
        // construction, and it reclaims provisional allocations of writes that never landed.
        var depot = SlabDepot.CreateEmpty(geometry);
        var counts = new byte[geometry.SlabCount][];
        for (var s = 0; s < geometry.SlabCount; s++)
            counts[s] = new byte[geometry.SlabBlocks];
        var pages = 0L;
        foreach (var pagePbn in blockMap.RootEntries)
        {
            if (pagePbn == 0)
                continue;
            var (slab, sbn) = geometry.Locate(pagePbn);
            if (counts[slab][sbn] != 0)
                throw new CorruptMetadataException("block-map root", $"PBN {pagePbn} holds two block-map pages");
            counts[slab][sbn] = SlabDepot.BlockMapPageCount;
            pages++;
        }
        var logicalUsed = 0L;
        CorruptMetadataException? damage = null;
        blockMap.ForEachMapping(
            (lbn, m) =>
            {
                logicalUsed++;
                if (!m.HasPhysicalBlock)
                    return;
                if (!geometry.IsDataBlock(m.Pbn))
                {
                    damage ??= new CorruptMetadataException($"block-map entry of LBN {lbn}", $"maps to PBN {m.Pbn}, which is not a data block");
                    return;
                }
                var (slab, sbn) = geometry.Locate(m.Pbn);
                if (counts[slab][sbn] >= VdoConstants.MaximumReferenceCount)
                    damage ??= new CorruptMetadataException($"block-map entry of LBN {lbn}", $"PBN {m.Pbn} has more than {VdoConstants.MaximumReferenceCount} references or is a block-map page");
                else
                    counts[slab][sbn]++;
            },
            e => damage ??= e);
        if (damage is not null)
            throw damage;
        depot.ReplaceAll(s => counts[s]);
        depot.SetBlockMapPageTotal(pages);

        var counters = super.Counters;
        counters.Recoveries++;
        var journal = new RecoveryJournal(device, geometry, next, super.JournalReplayFrom);
        var zones = Assemble(device, geometry, options, hooks, depot, blockMap, journal, counters, writer);
        zones.SuperBlockSequence = super.Sequence;
        zones.LogicalBlocksUsed = logicalUsed;
        zones.Checkpoint(clean: false);
        return new Volume(zones, ownsDevice) { Recovered = true };
    }

    private static long CountMapped(BlockMap blockMap)
    {
        var n = 0L;
        CorruptMetadataException? damage = null;
        blockMap.ForEachMapping((_, _) => n++, e => damage ??= e);
        return damage is null ? n : throw damage;
    }

    private static int CachePages(VdoOptions options, VolumeHooks hooks) =>
        hooks.BlockMapCachePages ?? (int)Math.Min(int.MaxValue, (long)options.Volume.BlockMapCacheMb * 1024 * 1024 / VdoConstants.BlockSize);

    private static void WriteEmptyCatalog(MetadataWriter writer, Geometry geometry, byte[] block)
    {
        for (var b = 0; b < geometry.CatalogBlocks; b++)
        {
            Array.Clear(block);
            MetadataBlock.Seal(block, MetadataKind.Catalog, geometry.Nonce, b);
            writer.Write(geometry.CatalogStart + b, block);
        }
    }

    private static void CheckCatalog(IBlockDevice device, Geometry geometry, byte[] block)
    {
        for (var b = 0; b < geometry.CatalogBlocks; b++)
        {
            device.Read(geometry.CatalogStart + b, block);
            MetadataBlock.Check(block, MetadataKind.Catalog, geometry.Nonce, b, $"image catalog block {b} (PBN {geometry.CatalogStart + b})");
        }
    }
}
