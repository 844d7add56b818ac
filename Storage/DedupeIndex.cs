using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>
/// Block name → mapping hints, bounded in memory and kept in temporal order: records live in
/// chapters; when the last chapter fills, the oldest is dropped (UDS-style). A hint is only a
/// hint: the write path verifies the data before sharing (I4). Saved at clean close into the
/// index region, newest chapters first when it does not all fit. One owner at a time.
/// </summary>
public sealed class DedupeIndex
{
    /// <summary>Approximate memory per record: two table slots (half load) plus a chapter slot.</summary>
    public const int BytesPerRecord = 80;

    private const int RecordSize = 21; // 16-byte name + 5-byte mapping
    private const int RecordsPerBlock = MetadataBlock.PayloadSize / RecordSize;

    private readonly IndexRecordTable _records;
    private readonly UInt128[][] _chapters;
    private readonly int _chapterCapacity;
    private long _newestChapter;   // absolute chapter number being filled
    private long _oldestChapter;
    private int _filled;           // records in the newest chapter

    /// <summary>An empty index of about <paramref name="capacity"/> records in <paramref name="chapters"/> chapters.</summary>
    public DedupeIndex(int capacity, int chapters)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chapters, 2);
        var chapterCapacity = Math.Max(16, capacity / chapters);
        _records = new IndexRecordTable(checked(chapterCapacity * chapters));
        _chapterCapacity = Math.Min(chapterCapacity, _records.Capacity / chapters);
        _chapters = new UInt128[chapters][];
        for (var i = 0; i < chapters; i++)
            _chapters[i] = new UInt128[_chapterCapacity];
    }

    /// <summary>Records currently held.</summary>
    public int Count => _records.Count;

    /// <summary>Most records held at once.</summary>
    public int Capacity => _chapterCapacity * _chapters.Length;

    /// <summary>Queries answered with a hint.</summary>
    public long Hits { get; private set; }

    /// <summary>Queries with no hint.</summary>
    public long Misses { get; private set; }

    /// <summary>
    /// The hint for <paramref name="name"/>, if any, with the checksum of data of that name (the
    /// index keeps locations only: a block shared after the byte-for-byte verify holds exactly it).
    /// </summary>
    public bool TryGet(UInt128 name, out BlockMapping mapping)
    {
        if (_records.TryGet(name, out mapping, out _))
        {
            mapping = mapping.WithName(name);
            Hits++;
            return true;
        }
        Misses++;
        return false;
    }

    /// <summary>Starts loading <paramref name="name"/>'s record into the cache for a lookup or update shortly after (safe without the owner's lock).</summary>
    public void Prefetch(UInt128 name) => _records.Prefetch(name);

    /// <summary>Records (or refreshes) the newest location of <paramref name="name"/>.</summary>
    public void Put(UInt128 name, BlockMapping mapping)
    {
        if (_filled == _chapterCapacity)
            CloseChapter();
        _chapters[_newestChapter % _chapters.Length][_filled++] = name;
        _records.Set(name, mapping, _newestChapter);
    }

    /// <summary>Forgets <paramref name="name"/> if it still points at <paramref name="mapping"/> (stale hint).</summary>
    public void Forget(UInt128 name, BlockMapping mapping)
    {
        _records.RemoveIf(name, mapping, 0);
    }

    private void CloseChapter()
    {
        _newestChapter++;
        _filled = 0;
        if (_newestChapter - _oldestChapter < _chapters.Length)
            return;
        // Expire the oldest chapter: only records whose newest copy lives there go.
        var expired = _chapters[_oldestChapter % _chapters.Length];
        for (var i = 0; i < expired.Length; i++)
        {
            if (i + PrefetchAhead < expired.Length)
                _records.Prefetch(expired[i + PrefetchAhead]);
            _records.RemoveIf(expired[i], null, _oldestChapter);
        }
        _oldestChapter++;
    }

    /// <summary>Saves the newest records that fit into the index region; returns how many were saved.</summary>
    public int Save(IBlockDevice device, Geometry geometry) => SaveAll([this], device, geometry);

    /// <summary>
    /// Saves the newest records of every partition (one per hash zone) that fit into the index
    /// region, oldest first by age within their partition; returns how many were saved. The
    /// format does not depend on the number of partitions.
    /// </summary>
    public static int SaveAll(IReadOnlyList<DedupeIndex> parts, IBlockDevice device, Geometry geometry)
    {
        var block = new byte[VdoConstants.BlockSize];
        var maxRecords = (long)geometry.IndexBlocks * RecordsPerBlock;
        // Oldest first so a load replays them in temporal order; skip the oldest if they don't fit.
        var ordered = new List<(UInt128 Name, BlockMapping Mapping, long Age)>();
        foreach (var part in parts)
        {
            foreach (var (name, mapping, chapter) in part._records.Records())
                ordered.Add((name, mapping, part._newestChapter - chapter));
        }
        ordered.Sort((a, b) => b.Age.CompareTo(a.Age));
        var skip = (int)Math.Max(0, ordered.Count - maxRecords);
        var saved = ordered.Count - skip;
        var blocks = (saved + RecordsPerBlock - 1) / RecordsPerBlock;
        for (var b = 0; b < Math.Max(1, blocks); b++)
        {
            Array.Clear(block);
            var payload = MetadataBlock.Payload(block.AsSpan());
            var first = skip + (b * RecordsPerBlock);
            var n = Math.Min(RecordsPerBlock, ordered.Count - first);
            BinaryPrimitives.WriteInt32LittleEndian(payload[^4..], b == 0 ? saved : 0);
            for (var i = 0; i < n; i++)
            {
                var rec = ordered[first + i];
                BinaryPrimitives.WriteUInt128LittleEndian(payload[(i * RecordSize)..], rec.Name);
                rec.Mapping.EncodeLocation(payload[((i * RecordSize) + 16)..]);
            }
            MetadataBlock.Seal(block, MetadataKind.DedupeIndex, geometry.Nonce, b);
            device.Write(geometry.IndexStart + b, block);
        }
        return saved;
    }

    /// <summary>Loads a saved index; a damaged save is dropped (the index is only a hint) and reported as false.</summary>
    public bool Load(IBlockDevice device, Geometry geometry) => LoadAll([this], _ => 0, device, geometry);

    /// <summary>Loads a saved index into its partitions, each record into the one <paramref name="partOf"/> names.</summary>
    public static bool LoadAll(IReadOnlyList<DedupeIndex> parts, Func<UInt128, int> partOf, IBlockDevice device, Geometry geometry)
    {
        var block = new byte[VdoConstants.BlockSize];
        device.Read(geometry.IndexStart, block);
        if (MetadataBlock.Validate(block, MetadataKind.DedupeIndex, geometry.Nonce, 0) is not null)
            return false;
        var total = BinaryPrimitives.ReadInt32LittleEndian(MetadataBlock.Payload(block.AsSpan())[^4..]);
        if (total < 0 || total > (long)geometry.IndexBlocks * RecordsPerBlock)
            return false;
        for (var b = 0; total > 0; b++)
        {
            if (b > 0)
            {
                device.Read(geometry.IndexStart + b, block);
                if (MetadataBlock.Validate(block, MetadataKind.DedupeIndex, geometry.Nonce, b) is not null)
                    return false; // keep what loaded: still valid hints
            }
            var payload = MetadataBlock.Payload(block.AsSpan());
            var n = Math.Min(RecordsPerBlock, total);
            for (var i = 0; i < n; i++)
            {
                var name = BinaryPrimitives.ReadUInt128LittleEndian(payload[(i * RecordSize)..]);
                parts[partOf(name)].Put(name, BlockMapping.DecodeLocation(payload[((i * RecordSize) + 16)..]));
            }
            total -= n;
        }
        return true;
    }

    /// <summary>How far ahead a walk over many records starts loading them (enough to overlap the cache misses).</summary>
    public const int PrefetchAhead = 8;
}
