namespace DataflowVdo.Storage;

/// <summary>
/// LBN → mapping. A fixed root (the PBN of every leaf page, 0 when never needed) and leaf
/// pages allocated from the slabs on first use (thin provisioning), cached in a bounded LRU
/// (I8). A dirty page is written only after the journal entries it reflects are durable
/// (<see cref="EnsureDurable"/>, I2). One owner at a time.
/// </summary>
public sealed class BlockMap
{
    private readonly IBlockDevice _device;
    private readonly Geometry _geometry;
    private readonly long[] _root;
    private readonly bool[] _rootDirty;
    private readonly Dictionary<long, BlockMapPage> _cache = [];
    private readonly LinkedList<BlockMapPage> _lru = new();
    private readonly Stack<byte[]> _spare = new();
    private readonly int _capacity;
    private readonly MetadataWriter _writer;

    private BlockMap(IBlockDevice device, Geometry geometry, int cachePages, MetadataWriter writer)
    {
        _device = device;
        _writer = writer;
        _geometry = geometry;
        _capacity = Math.Max(2, cachePages);
        _root = new long[geometry.LeafPages];
        _rootDirty = new bool[geometry.RootBlocks];
    }

    /// <summary>Called with a journal point before a page reflecting it is written; must make the journal durable through it.</summary>
    public Action<long> EnsureDurable { get; set; } = _ => { };

    /// <summary>Leaf pages allocated.</summary>
    public long AllocatedPages { get; private set; }

    /// <summary>Pages written so far.</summary>
    public long PagesWritten { get; private set; }

    /// <summary>Pages read from the device so far (cache misses).</summary>
    public long PagesRead { get; private set; }

    /// <summary>A block map with no pages (format).</summary>
    public static BlockMap CreateEmpty(IBlockDevice device, Geometry geometry, int cachePages, MetadataWriter writer)
    {
        var map = new BlockMap(device, geometry, cachePages, writer);
        Array.Fill(map._rootDirty, true);
        return map;
    }

    /// <summary>Loads and validates the root; leaf pages load on demand.</summary>
    public static BlockMap Load(IBlockDevice device, Geometry geometry, int cachePages, MetadataWriter writer)
    {
        var map = new BlockMap(device, geometry, cachePages, writer);
        var block = new byte[VdoConstants.BlockSize];
        for (var b = 0; b < geometry.RootBlocks; b++)
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
                    map.AllocatedPages++;
            }
        }
        return map;
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
        if (_root[pageIndex] == 0)
            AllocatedPages++;
        _root[pageIndex] = pbn;
        _rootDirty[pageIndex / Geometry.EntriesPerPage] = true;
        if (_cache.Remove(pageIndex, out var stale))
        {
            _lru.Remove(stale.Node!);
            _spare.Push(stale.Data);
        }
        var page = Admit(pageIndex, NewBuffer());
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
        if (_cache.TryGetValue(pageIndex, out var page))
        {
            if (page.Node != _lru.First)
            {
                _lru.Remove(page.Node!);
                _lru.AddFirst(page.Node!);
            }
            return page;
        }
        var pbn = _root[pageIndex];
        var data = NewBuffer();
        _device.Read(pbn, data);
        PagesRead++;
        var problem = MetadataBlock.Validate(data, MetadataKind.BlockMapLeaf, _geometry.Nonce, pageIndex);
        if (problem is not null)
        {
            _spare.Push(data);
            throw new CorruptMetadataException($"block-map page {pageIndex} (PBN {pbn}, LBNs {pageIndex * Geometry.EntriesPerPage}..{((pageIndex + 1) * Geometry.EntriesPerPage) - 1})", problem);
        }
        return Admit(pageIndex, data);
    }

    private byte[] NewBuffer()
    {
        if (_spare.TryPop(out var buffer))
        {
            Array.Clear(buffer);
            return buffer;
        }
        return new byte[VdoConstants.BlockSize];
    }

    private BlockMapPage Admit(long pageIndex, byte[] data)
    {
        if (_cache.Count >= _capacity)
        {
            // Evict a group at once so their writes share one double-write batch.
            var group = Math.Clamp(_capacity / 8, 1, 32);
            for (var i = 0; i < group && _cache.Count > 0; i++)
                Evict(_lru.Last!.Value);
            _writer.Commit();
        }
        var page = new BlockMapPage(pageIndex, data);
        page.Node = _lru.AddFirst(page);
        _cache.Add(pageIndex, page);
        return page;
    }

    private void Evict(BlockMapPage page)
    {
        if (page.Dirty)
            WritePage(page);
        _lru.Remove(page.Node!);
        _cache.Remove(page.Index);
        _spare.Push(page.Data);
    }

    private void WritePage(BlockMapPage page)
    {
        EnsureDurable(page.LastJournalPoint);
        MetadataBlock.Seal(page.Data, MetadataKind.BlockMapLeaf, _geometry.Nonce, page.Index);
        _writer.Write(_root[page.Index], page.Data);
        page.Dirty = false;
        PagesWritten++;
    }

    /// <summary>Stages every dirty page and root block in the metadata writer (checkpoint; journal already durable).</summary>
    public void WriteDirty()
    {
        foreach (var page in _lru)
        {
            if (page.Dirty)
                WritePage(page);
        }
        var block = new byte[VdoConstants.BlockSize];
        for (var b = 0; b < _geometry.RootBlocks; b++)
        {
            if (!_rootDirty[b])
                continue;
            Array.Clear(block);
            var payload = MetadataBlock.Payload(block.AsSpan());
            for (var i = 0; i < Geometry.EntriesPerPage; i++)
            {
                var page = ((long)b * Geometry.EntriesPerPage) + i;
                if (page >= _root.Length)
                    break;
                var entry = _root[page] == 0 ? BlockMapping.Unmapped : new BlockMapping(_root[page], MappingState.Uncompressed);
                entry.Encode(payload.Slice(i * BlockMapping.EncodedSize));
            }
            MetadataBlock.Seal(block, MetadataKind.BlockMapRoot, _geometry.Nonce, b);
            _writer.Write(_geometry.RootStart + b, block);
            _rootDirty[b] = false;
        }
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
            if (_cache.TryGetValue(p, out var cached))
            {
                data = cached.Data;
            }
            else
            {
                _device.Read(_root[p], scratch);
                var problem = MetadataBlock.Validate(scratch, MetadataKind.BlockMapLeaf, _geometry.Nonce, p);
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

    /// <summary>Reads the root PBN list (for checks).</summary>
    public ReadOnlySpan<long> RootEntries => _root;

}
