namespace DataflowVdo.Storage;

/// <summary>
/// LBN → mapping. A fixed root (the PBN of every leaf page, 0 when never needed) and leaf
/// pages allocated from the slabs on first use (thin provisioning), cached in a bounded LRU
/// (I8). A dirty page is written only after the journal entries it reflects are durable
/// (<see cref="EnsureDurable"/>, I2). The leaf pages are dealt to logical zones (page <c>p</c> to
/// zone <c>p % zones</c>, as in VDO), each with its own share of the cache; every page and its
/// root entry is touched only by its zone's owner, so zones run concurrently. Whole-map methods
/// (format, recovery, a quiet volume's checkpoint, checks) need every zone quiet.
/// </summary>
public sealed class BlockMap
{
    private readonly IBlockDevice _device;
    private readonly Geometry _geometry;
    private long[] _root;
    private long[] _diskRoot; // the root as last staged for writing
    private bool _rootWritten;
    private readonly CacheZone[] _zones;
    private readonly MetadataWriter _writer;

    private BlockMap(IBlockDevice device, Geometry geometry, int cachePages, MetadataWriter writer, int zones)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(zones, 1);
        _device = device;
        _writer = writer;
        _geometry = geometry;
        _root = new long[geometry.LeafPages];
        _diskRoot = new long[geometry.LeafPages];
        _zones = new CacheZone[zones];
        for (var z = 0; z < zones; z++)
            _zones[z] = new CacheZone(Math.Max(2, cachePages / zones));
    }

    /// <summary>Logical zones the pages are dealt to.</summary>
    public int ZoneCount => _zones.Length;

    /// <summary>The logical zone that owns <paramref name="lbn"/> (by its leaf page).</summary>
    public int ZoneOfLbn(long lbn) => _zones.Length == 1 ? 0 : (int)((lbn / Geometry.EntriesPerPage) % _zones.Length);

    private CacheZone ZoneOfPage(long page) => _zones.Length == 1 ? _zones[0] : _zones[page % _zones.Length];

    /// <summary>Called with a journal point before a page reflecting it is written; must make the journal durable through it.</summary>
    public Action<long> EnsureDurable { get; set; } = _ => { };

    /// <summary>Leaf pages allocated.</summary>
    public long AllocatedPages => _zones.Sum(static z => Volatile.Read(ref z.AllocatedPages));

    /// <summary>Pages written so far.</summary>
    public long PagesWritten => _zones.Sum(static z => Volatile.Read(ref z.PagesWritten));

    /// <summary>Pages read from the device so far (cache misses).</summary>
    public long PagesRead => _zones.Sum(static z => Volatile.Read(ref z.PagesRead));

    /// <summary>A block map with no pages (format).</summary>
    public static BlockMap CreateEmpty(IBlockDevice device, Geometry geometry, int cachePages, MetadataWriter writer, int zones = 1) =>
        new(device, geometry, cachePages, writer, zones);

    /// <summary>Loads and validates the root; leaf pages load on demand.</summary>
    public static BlockMap Load(IBlockDevice device, Geometry geometry, int cachePages, MetadataWriter writer, int zones = 1)
    {
        var map = new BlockMap(device, geometry, cachePages, writer, zones);
        var block = new byte[VdoConstants.BlockSize];
        // Only the root blocks that map the logical space: those past it (room to grow, formatted
        // empty) are read once a growth reaches them. An 8 GiB pool of 256 GiB logical has 102 of
        // 2,500, and reading and checking the rest was most of its open's block-map load.
        var inUse = (int)((map._root.Length + Geometry.EntriesPerPage - 1) / Geometry.EntriesPerPage);
        for (var b = 0; b < inUse; b++)
        {
            var pbn = geometry.RootStart + b;
            device.Read(pbn, block);
            MetadataBlock.Check(block, MetadataKind.BlockMapRoot, geometry.Nonce, b, $"block-map root block {b} (PBN {pbn})");
            for (var i = 0; i < Geometry.EntriesPerPage; i++)
            {
                var page = ((long)b * Geometry.EntriesPerPage) + i;
                if (page >= map._root.Length)
                    break;
                var entry = BlockMapping.Decode(MetadataBlock.Payload(block.AsSpan()).Slice(i * BlockMapping.EncodedSize));
                if (entry.Pbn != 0 && (!entry.IsMapped || !geometry.IsDataBlock(entry.Pbn)))
                    throw new CorruptMetadataException($"block-map root block {b} (PBN {pbn})", $"leaf page {page} points at PBN {entry.Pbn}, which is not a data block");
                map._root[page] = entry.Pbn;
                if (entry.Pbn != 0)
                    map.ZoneOfPage(page).AllocatedPages++;
            }
        }
        map._root.CopyTo(map._diskRoot, 0);
        map._rootWritten = true;
        return map;
    }

    /// <summary>
    /// Extends the root to <paramref name="leafPages"/> leaf pages after an online logical growth.
    /// The new entries are unallocated, as the formatted root blocks already say on disk, so
    /// nothing is written. Needs every zone quiet.
    /// </summary>
    public void GrowLogical(long leafPages)
    {
        if (leafPages < _root.Length || leafPages > (long)_geometry.RootBlocks * Geometry.EntriesPerPage)
            throw new ArgumentOutOfRangeException(nameof(leafPages), $"{leafPages} leaf pages is outside {_root.Length}..{(long)_geometry.RootBlocks * Geometry.EntriesPerPage}");
        Array.Resize(ref _root, (int)leafPages);
        Array.Resize(ref _diskRoot, (int)leafPages);
    }

    /// <summary>PBN of leaf page <paramref name="page"/>, 0 when not allocated.</summary>
    public long PagePbn(long page) => _root[page];

    /// <summary>Number of leaf pages the logical space has.</summary>
    public long PageCount => _root.Length;

    /// <summary>True when <paramref name="lbn"/>'s page has not been allocated yet.</summary>
    public bool NeedsPage(long lbn) => _root[lbn / Geometry.EntriesPerPage] == 0;

    /// <summary>The mapping of <paramref name="lbn"/>.</summary>
    public BlockMapping Get(long lbn)
    {
        var pageIndex = lbn / Geometry.EntriesPerPage;
        if (_root[pageIndex] == 0)
            return BlockMapping.Unmapped;
        return GetPage(pageIndex).Get((int)(lbn % Geometry.EntriesPerPage));
    }

    /// <summary>Records a newly allocated leaf page (its journal entry is already appended); the page starts empty.</summary>
    public void InstallPage(long pageIndex, long pbn, long journalPoint)
    {
        var zone = ZoneOfPage(pageIndex);
        if (_root[pageIndex] == 0)
            zone.AllocatedPages++;
        _root[pageIndex] = pbn;
        if (zone.Cache.Remove(pageIndex, out var stale))
        {
            zone.Lru.Remove(stale.Node!);
            zone.Spare.Push(stale.Data);
        }
        var page = Admit(zone, pageIndex, NewBuffer(zone));
        page.Dirty = true;
        page.LastJournalPoint = journalPoint;
    }

    /// <summary>Sets the mapping of <paramref name="lbn"/> (its page must be allocated), noting the journal point it reflects.</summary>
    public void Set(long lbn, BlockMapping mapping, long journalPoint)
    {
        var page = GetPage(lbn / Geometry.EntriesPerPage);
        page.Set((int)(lbn % Geometry.EntriesPerPage), mapping);
        page.Dirty = true;
        page.LastJournalPoint = Math.Max(page.LastJournalPoint, journalPoint);
    }

    private BlockMapPage GetPage(long pageIndex)
    {
        var zone = ZoneOfPage(pageIndex);
        if (zone.Cache.TryGetValue(pageIndex, out var page))
        {
            if (page.Node != zone.Lru.First)
            {
                zone.Lru.Remove(page.Node!);
                zone.Lru.AddFirst(page.Node!);
            }
            return page;
        }
        var pbn = _root[pageIndex];
        var data = NewBuffer(zone);
        _device.Read(pbn, data);
        zone.PagesRead++;
        var problem = MetadataBlock.Validate(data, MetadataKind.BlockMapLeaf, _geometry.Nonce, pageIndex) ?? ImpossibleMapping(data, pageIndex);
        if (problem is not null)
        {
            zone.Spare.Push(data);
            throw new CorruptMetadataException($"block-map page {pageIndex} (PBN {pbn}, LBNs {pageIndex * Geometry.EntriesPerPage}..{((pageIndex + 1) * Geometry.EntriesPerPage) - 1})", problem);
        }
        return Admit(zone, pageIndex, data);
    }

    /// <summary>
    /// A mapping no write makes (a page whose checksum holds but whose content is wrong: a bug,
    /// or damage resealed): a physical block outside the data area, an unmapped entry or a
    /// fragment naming PBN 0. Reading such a mapping must fail naming the page, not the device.
    /// </summary>
    private string? ImpossibleMapping(byte[] data, long pageIndex)
    {
        for (var i = 0; i < Geometry.EntriesPerPage; i++)
        {
            var m = BlockMapping.Decode(data.AsSpan(MetadataBlock.HeaderSize + (i * BlockMapping.EncodedSize), BlockMapping.EncodedSize));
            if ((m.State == MappingState.Unmapped && m.Pbn != 0) || (m.IsCompressed && m.Pbn == 0) || (m.HasPhysicalBlock && !_geometry.IsDataBlock(m.Pbn))
                || (!m.HasPhysicalBlock && m.Checksum != 0))
                return $"LBN {(pageIndex * Geometry.EntriesPerPage) + i} maps to {m}, which is impossible";
        }
        return null;
    }

    private static byte[] NewBuffer(CacheZone zone)
    {
        if (zone.Spare.TryPop(out var buffer))
        {
            Array.Clear(buffer);
            return buffer;
        }
        return new byte[VdoConstants.BlockSize];
    }

    private BlockMapPage Admit(CacheZone zone, long pageIndex, byte[] data)
    {
        if (zone.Cache.Count >= zone.Capacity)
        {
            // Evict a group at once so their writes share one double-write batch.
            var group = Math.Clamp(zone.Capacity / 8, 1, 32);
            for (var i = 0; i < group && zone.Cache.Count > 0; i++)
                Evict(zone, zone.Lru.Last!.Value);
            _writer.Commit();
        }
        var page = new BlockMapPage(pageIndex, data);
        page.Node = zone.Lru.AddFirst(page);
        zone.Cache.Add(pageIndex, page);
        return page;
    }

    private void Evict(CacheZone zone, BlockMapPage page)
    {
        if (page.Dirty)
            WritePage(zone, page);
        zone.Lru.Remove(page.Node!);
        zone.Cache.Remove(page.Index);
        zone.Spare.Push(page.Data);
    }

    private void WritePage(CacheZone zone, BlockMapPage page)
    {
        EnsureDurable(page.LastJournalPoint);
        MetadataBlock.Seal(page.Data, MetadataKind.BlockMapLeaf, _geometry.Nonce, page.Index);
        _writer.Write(_root[page.Index], page.Data);
        page.Dirty = false;
        zone.PagesWritten++;
    }

    /// <summary>Stages every dirty page and the changed root blocks in the metadata writer (a quiet volume's checkpoint).</summary>
    public void WriteDirty()
    {
        for (var z = 0; z < _zones.Length; z++)
            WriteDirtyPages(z);
        WriteRoot(_root);
    }

    /// <summary>Stages the dirty pages of logical zone <paramref name="zone"/> (its owner, during a running checkpoint).</summary>
    public void WriteDirtyPages(int zone)
    {
        var z = _zones[zone];
        foreach (var page in z.Lru)
        {
            if (page.Dirty)
                WritePage(z, page);
        }
    }

    /// <summary>
    /// Copies logical zone <paramref name="zone"/>'s root entries into <paramref name="image"/> (its
    /// owner, right after <see cref="WriteDirtyPages"/>: every page the copy names is written).
    /// </summary>
    public void CaptureRoot(int zone, long[] image)
    {
        if (_zones.Length == 1)
        {
            _root.CopyTo(image, 0);
            return;
        }
        for (long p = zone; p < _root.Length; p += _zones.Length)
            image[p] = _root[p];
    }

    /// <summary>A copy of the whole root (a root image for <see cref="CaptureRoot"/> to fill).</summary>
    public long[] CopyRoot() => (long[])_root.Clone();

    /// <summary>Stages the root blocks whose entries in <paramref name="image"/> differ from what was last staged.</summary>
    public void WriteRoot(ReadOnlySpan<long> image)
    {
        byte[]? block = null;
        for (var b = 0; b < _geometry.RootBlocks; b++)
        {
            // Root blocks past the logical space (room to grow it) are written empty once, at format.
            var first = Math.Min((long)b * Geometry.EntriesPerPage, _root.Length);
            var n = (int)Math.Min(Geometry.EntriesPerPage, _root.Length - first);
            var entries = image.Slice((int)first, n);
            if (_rootWritten && entries.SequenceEqual(_diskRoot.AsSpan((int)first, n)))
                continue;
            block ??= new byte[VdoConstants.BlockSize];
            Array.Clear(block);
            var payload = MetadataBlock.Payload(block.AsSpan());
            for (var i = 0; i < entries.Length; i++)
            {
                var entry = entries[i] == 0 ? BlockMapping.Unmapped : new BlockMapping(entries[i], MappingState.Uncompressed);
                entry.Encode(payload.Slice(i * BlockMapping.EncodedSize));
            }
            MetadataBlock.Seal(block, MetadataKind.BlockMapRoot, _geometry.Nonce, b);
            _writer.Write(_geometry.RootStart + b, block);
            entries.CopyTo(_diskRoot.AsSpan((int)first));
        }
        _rootWritten = true;
    }

    /// <summary>
    /// Visits every mapped LBN of every allocated page (recount, check). Cached pages are read from
    /// the cache; others straight from the device without disturbing the cache. A damaged page is
    /// reported through <paramref name="onCorrupt"/> and skipped.
    /// </summary>
    public void ForEachMapping(Action<long, BlockMapping> visit, Action<CorruptMetadataException> onCorrupt) =>
        ForEachMapping(0, _root.Length, visit, onCorrupt);

    /// <summary>
    /// <see cref="ForEachMapping(Action{long, BlockMapping}, Action{CorruptMetadataException})"/>
    /// restricted to leaf pages <c>[firstPage, endPage)</c> (one image's extent).
    /// </summary>
    public void ForEachMapping(long firstPage, long endPage, Action<long, BlockMapping> visit, Action<CorruptMetadataException> onCorrupt)
    {
        var scratch = new byte[VdoConstants.BlockSize];
        for (var p = Math.Max(0, firstPage); p < Math.Min(endPage, _root.Length); p++)
        {
            if (_root[p] == 0)
                continue;
            byte[] data;
            if (ZoneOfPage(p).Cache.TryGetValue(p, out var cached))
            {
                data = cached.Data;
            }
            else
            {
                _device.Read(_root[p], scratch);
                var problem = MetadataBlock.Validate(scratch, MetadataKind.BlockMapLeaf, _geometry.Nonce, p) ?? ImpossibleMapping(scratch, p);
                if (problem is not null)
                {
                    onCorrupt(new CorruptMetadataException($"block-map page {p} (PBN {_root[p]})", problem));
                    continue;
                }
                data = scratch;
            }
            for (var i = 0; i < Geometry.EntriesPerPage; i++)
            {
                var m = BlockMapping.Decode(data.AsSpan(MetadataBlock.HeaderSize + (i * BlockMapping.EncodedSize), BlockMapping.EncodedSize));
                if (m.IsMapped)
                    visit((p * Geometry.EntriesPerPage) + i, m);
            }
        }
    }

    /// <summary>
    /// Scrub of leaf page <paramref name="pageIndex"/>'s on-disk copy: null when it is whole (or
    /// when the cache holds a newer, unwritten version, which the next checkpoint writes), else
    /// what is wrong with it. Runs on a quiescent block map.
    /// </summary>
    internal string? ScrubPage(long pageIndex, byte[] scratch)
    {
        if (_root[pageIndex] == 0 || (ZoneOfPage(pageIndex).Cache.TryGetValue(pageIndex, out var cached) && cached.Dirty))
            return null;
        _device.Read(_root[pageIndex], scratch);
        return MetadataBlock.Validate(scratch, MetadataKind.BlockMapLeaf, _geometry.Nonce, pageIndex) ?? ImpossibleMapping(scratch, pageIndex);
    }

    /// <summary>Reads the root PBN list (for checks).</summary>
    public ReadOnlySpan<long> RootEntries => _root;

    /// <summary>One logical zone's share of the cache and its figures.</summary>
    private sealed class CacheZone(int capacity)
    {
        public readonly int Capacity = capacity;
        public readonly Dictionary<long, BlockMapPage> Cache = [];
        public readonly LinkedList<BlockMapPage> Lru = new();
        public readonly Stack<byte[]> Spare = new();
        public long AllocatedPages;
        public long PagesWritten;
        public long PagesRead;
    }
}
