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
        ApplyDeviceOptions(device, options);
        var nonce = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) | 1;
        var geometry = Geometry.Compute(parameters, device.BlockCount, nonce);
        var block = new byte[VdoConstants.BlockSize];

        // Wipe block 0 first: a half-formatted device must never look like a pool.
        device.Write(0, block);
        var writer = new MetadataWriter(device, geometry);
        var depot = SlabDepot.CreateEmpty(device, geometry, PhysicalZones(options));
        hooks ??= new VolumeHooks();
        var blockMap = BlockMap.CreateEmpty(device, geometry, CachePages(options, hooks), writer, LogicalZones(options));
        const ulong FirstSequence = 1;
        var journal = new RecoveryJournal(device, geometry, FirstSequence, FirstSequence);
        var zones = Assemble(device, geometry, options, hooks, depot, blockMap, journal, new PersistentCounters(), writer, null);
        depot.WriteAllRefCounts(writer);
        blockMap.WriteDirty();
        WriteEmptyCatalog(writer, geometry, block);
        writer.Commit();
        zones.SaveIndex();
        device.Flush();
        zones.WriteSuperBlock(clean: false, indexSaved: false);
        geometry.Encode(block);
        device.Write(0, block);
        device.Flush();
        return new Volume(zones, ownsDevice) { _catalog = ImageCatalog.CreateEmpty(geometry) };
    }

    /// <summary>
    /// Opens a pool. After an unclean shutdown, replays the recovery journal into the block map,
    /// rebuilds the reference counts from it (provisional allocations are reclaimed) and takes a
    /// checkpoint before accepting I/O. Damaged metadata fails the open with a message naming it.
    /// </summary>
    public static Volume Open(IBlockDevice device, VdoOptions? options = null, VolumeHooks? hooks = null, bool ownsDevice = false) =>
        Open(device, options, hooks, ownsDevice, loadIndex: true, loadCounts: true);

    /// <summary>
    /// <see cref="Open(IBlockDevice, VdoOptions?, VolumeHooks?, bool)"/>; without <paramref name="loadIndex"/> the saved dedupe index is not read,
    /// without <paramref name="loadCounts"/> the reference counts of a clean pool are not either (read-only opens that only read data).
    /// </summary>
    private static Volume Open(IBlockDevice device, VdoOptions? options, VolumeHooks? hooks, bool ownsDevice, bool loadIndex, bool loadCounts)
    {
        options = (options ?? new VdoOptions()).EnsureValid();
        ApplyDeviceOptions(device, options);
        var block = new byte[VdoConstants.BlockSize];
        device.Read(0, block);
        var geometry = Geometry.Decode(block, device.BlockCount);
        var super = SuperBlock.Read(device, geometry.Nonce);
        geometry = Grown(geometry, super);
        if (!super.Clean)
            MetadataWriter.Restore(device, geometry); // repair metadata blocks a crash may have torn
        var catalog = ImageCatalog.Load(device, geometry);
        var writer = new MetadataWriter(device, geometry);
        hooks ??= new VolumeHooks();
        var blockMap = BlockMap.Load(device, geometry, CachePages(options, hooks), writer, LogicalZones(options));
        var counters = super.Counters;
        Volume volume;
        if (super.Clean)
        {
            // Reading data needs no reference count: the depot stays as formatted, its figures unused (CheckCountsLoaded).
            var depot = loadCounts ? SlabDepot.Load(device, geometry, PhysicalZones(options)) : SlabDepot.CreateUnloaded(device, geometry, PhysicalZones(options));
            depot.SetBlockMapPageTotal(blockMap.AllocatedPages);
            var journal = new RecoveryJournal(device, geometry, super.JournalReplayFrom, super.JournalReplayFrom);
            var zones = Assemble(device, geometry, options, hooks, depot, blockMap, journal, counters, writer, super);
            zones.SuperBlockSequence = super.Sequence;
            zones.LogicalBlocksUsed = super.LogicalBlocksUsed;
            volume = new Volume(zones, ownsDevice, countsLoaded: loadCounts);
        }
        else
        {
            volume = Recover(device, geometry, super, blockMap, writer, options, hooks, ownsDevice);
        }
        volume._catalog = catalog;
        if (super.ReadOnlyReason is { } readOnly)
            LogMessages.OpenedReadOnly(hooks.Logger, readOnly);
        if (super.IndexSaved && loadIndex)
            volume._z.LoadIndex();
        // From now on a crash must be detected: mark the pool dirty (index save stays usable as hints).
        volume._z.WriteSuperBlock(clean: false, indexSaved: super.IndexSaved);
        try
        {
            if (!volume._countsUnloaded)
                volume.DiscardPendingBackups(); // ingests that were interrupted: no half image, no leaked space
        }
        catch
        {
            volume.Dispose();
            throw;
        }
        return volume;
    }

    private static Volume Recover(IBlockDevice device, Geometry geometry, SuperBlock super, BlockMap blockMap, MetadataWriter writer, VdoOptions options, VolumeHooks hooks, bool ownsDevice)
    {
        // 1. Reference counts: the ref-count blocks on disk, then each slab journal's newer entries.
        var depot = SlabDepot.Load(device, geometry, PhysicalZones(options));
        var lastLogged = new long[geometry.SlabCount]; // newest key read from each slab journal on disk
        var newest = new long[geometry.SlabCount];     // newest key reflected in each slab's counts
        var resume = new ulong[geometry.SlabCount];
        for (var s = 0; s < geometry.SlabCount; s++)
        {
            var from = ulong.MaxValue;
            var stamped = long.MinValue;
            for (var b = 0; b < geometry.RefCountBlocksPerSlab; b++)
            {
                from = Math.Min(from, depot.RefCountSequence(s, b));
                stamped = Math.Max(stamped, depot.RefCountKey(s, b));
            }
            lastLogged[s] = long.MinValue;
            foreach (var e in SlabJournal.Read(device, geometry, s, from, out resume[s]))
            {
                if (e.Sbn < 0 || e.Sbn >= geometry.SlabBlocks)
                    throw new CorruptMetadataException($"slab journal of slab {s}", $"entry names block {e.Sbn} of a {geometry.SlabBlocks}-block slab");
                if (e.Key > depot.RefCountKey(s, e.Sbn / Geometry.CountsPerBlock))
                    depot.Replay(e.Operation, s, e.Sbn);
                lastLogged[s] = Math.Max(lastLogged[s], e.Key);
            }
            newest[s] = Math.Max(stamped, lastLogged[s]);
        }

        // 2. The recovery journal: mappings into the block map, and the reference changes the
        //    slab journals did not yet hold (each change once: its key orders it, I3). A change is
        //    already counted if its slab journal held it or its ref-count block was written after it.
        void Change(SlabJournalOperation op, long pbn, long point)
        {
            var key = SlabJournalEntry.KeyOf(point, op);
            var (slab, sbn) = geometry.Locate(pbn);
            if (key <= lastLogged[slab] || key <= depot.RefCountKey(slab, sbn / Geometry.CountsPerBlock))
                return;
            depot.Replay(op, slab, sbn);
            newest[slab] = Math.Max(newest[slab], key);
        }

        var entries = RecoveryJournal.ReadForRecovery(device, geometry, super.JournalReplayFrom, out var next);
        var logicalUsed = super.LogicalBlocksUsed;
        var firstPoint = (long)super.JournalReplayFrom * JournalBlockFormat.EntriesPerBlock;
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            var point = firstPoint + i;
            switch (e.Kind)
            {
                case JournalEntryKind.BlockMapPage:
                    if (e.Lbn >= blockMap.PageCount || !geometry.IsDataBlock(e.New.Pbn))
                        throw new CorruptMetadataException("recovery journal", $"entry allocates block-map page {e.Lbn} at PBN {e.New.Pbn}, which is impossible");
                    blockMap.InstallPage(e.Lbn, e.New.Pbn, 0);
                    Change(SlabJournalOperation.BlockMapPage, e.New.Pbn, point);
                    break;
                case JournalEntryKind.DataMapping:
                    if (e.Lbn >= geometry.LogicalBlocks || (e.New.HasPhysicalBlock && !geometry.IsDataBlock(e.New.Pbn))
                        || (e.Old.HasPhysicalBlock && !geometry.IsDataBlock(e.Old.Pbn)))
                        throw new CorruptMetadataException("recovery journal", $"entry maps LBN {e.Lbn} from {e.Old} to {e.New}, which is impossible");
                    if (blockMap.NeedsPage(e.Lbn))
                    {
                        if (e.New.IsMapped)
                            throw new CorruptMetadataException("recovery journal", $"entry maps LBN {e.Lbn} before its block-map page was allocated");
                        break;
                    }
                    blockMap.Set(e.Lbn, e.New, 0);
                    if (e.New.HasPhysicalBlock)
                        Change(SlabJournalOperation.Increment, e.New.Pbn, point);
                    if (e.Old.HasPhysicalBlock)
                        Change(SlabJournalOperation.Decrement, e.Old.Pbn, point);
                    logicalUsed += (e.New.IsMapped ? 1 : 0) - (e.Old.IsMapped ? 1 : 0);
                    break;
                default:
                    throw new CorruptMetadataException("recovery journal", $"unknown entry kind {(int)e.Kind}");
            }
        }

        // 3. Writes that never reached the journal leave provisional blocks: reclaim them.
        depot.ReclaimProvisional();
        depot.SetBlockMapPageTotal(blockMap.AllocatedPages);
        for (var s = 0; s < geometry.SlabCount; s++)
            depot.ResumeJournal(s, resume[s], newest[s]);

        var counters = super.Counters;
        counters.Recoveries++;
        var journal = new RecoveryJournal(device, geometry, next, super.JournalReplayFrom);
        var zones = Assemble(device, geometry, options, hooks, depot, blockMap, journal, counters, writer, super);
        zones.SuperBlockSequence = super.Sequence;
        zones.LogicalBlocksUsed = logicalUsed;
        // The replayed changes live only in memory now: write every ref count before the journal is released.
        zones.Checkpoint(clean: false, writeRefCounts: true);
        return new Volume(zones, ownsDevice) { Recovered = true };
    }

    /// <summary>The geometry with the logical size the superblock records (an online growth), validated.</summary>
    private static Geometry Grown(Geometry geometry, SuperBlock super)
    {
        if (super.LogicalBlocks == 0 || super.LogicalBlocks == geometry.LogicalBlocks)
            return geometry;
        if (super.LogicalBlocks < geometry.LogicalBlocks || super.LogicalBlocks > geometry.MaxLogicalBlocks)
            throw new CorruptMetadataException($"superblock (copy {super.Sequence % 2})",
                $"logical size {super.LogicalBlocks} blocks is outside {geometry.LogicalBlocks}..{geometry.MaxLogicalBlocks} (formatted size .. what the block-map root can map)");
        return geometry.WithLogicalBlocks(super.LogicalBlocks);
    }

    private static void ApplyDeviceOptions(IBlockDevice device, VdoOptions options)
    {
        if (device is FileBlockDevice file)
            file.PageCacheWindowBytes = (long)options.Volume.PageCacheWindowMb * 1024 * 1024;
    }

    // The inline scheme runs every step under one lock: zones would only split its cache.
    private static int LogicalZones(VdoOptions options) => options.Pipeline.Scheme == SchemeKind.Inline ? 1 : options.Pipeline.LogicalZones;

    private static int PhysicalZones(VdoOptions options) => options.Pipeline.Scheme == SchemeKind.Inline ? 1 : options.Pipeline.PhysicalZones;

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
}
