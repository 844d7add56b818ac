using System.Buffers.Binary;
using System.Text;

namespace DataflowVdo.Storage;

/// <summary>
/// The named images of a pool, kept in the catalog region (<see cref="Geometry.CatalogStart"/>).
/// Each catalog block holds <see cref="SlotsPerBlock"/> fixed 96-byte records (name length 0 =
/// free slot): name length, kind, 64 name bytes, first LBN, size in bytes, creation time. A
/// change rewrites only the block holding its record, through the <see cref="MetadataWriter"/>
/// (so a torn write is repaired from the double-write area) followed by a device flush: an image
/// create or remove is durable when it returns. Extents are whole block-map pages, allocated
/// first fit in the thin logical space. Not thread-safe: the volume serializes calls.
/// </summary>
public sealed class ImageCatalog
{
    /// <summary>Longest image name in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 64;

    /// <summary>Size of one record.</summary>
    public const int RecordSize = 96;

    /// <summary>Records per catalog block.</summary>
    public const int SlotsPerBlock = MetadataBlock.PayloadSize / RecordSize; // 42

    private const int NameOffset = 4;
    private const int FirstLbnOffset = NameOffset + MaxNameBytes; // 68
    private const int SizeOffset = FirstLbnOffset + 8;
    private const int CreatedOffset = SizeOffset + 8;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private Geometry _geometry;
    private readonly ImageEntry?[] _slots;

    private ImageCatalog(Geometry geometry)
    {
        _geometry = geometry;
        _slots = new ImageEntry?[(long)geometry.CatalogBlocks * SlotsPerBlock];
    }

    /// <summary>The images, in slot order (not the pending backups of ingests in progress).</summary>
    public IReadOnlyList<ImageEntry> Images => [.. _slots.Where(s => s is not null && s.Kind != ImageKind.Pending).Select(s => s!)];

    /// <summary>The pending records: ingests in progress (or interrupted, right after an open).</summary>
    public IReadOnlyList<ImageEntry> Pending => [.. _slots.Where(s => s is not null && s.Kind == ImageKind.Pending).Select(s => s!)];

    /// <summary>An empty catalog (a newly formatted pool).</summary>
    public static ImageCatalog CreateEmpty(Geometry geometry) => new(geometry);

    /// <summary>
    /// Reads and validates every catalog block: header and checksum, then each record (name,
    /// kind, size, extent inside the logical space), unique names and no overlapping extents.
    /// Damage throws <see cref="CorruptMetadataException"/> naming "image catalog block N".
    /// </summary>
    public static ImageCatalog Load(IBlockDevice device, Geometry geometry)
    {
        var catalog = new ImageCatalog(geometry);
        var block = new byte[VdoConstants.BlockSize];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var b = 0; b < geometry.CatalogBlocks; b++)
        {
            var structure = $"image catalog block {b} (PBN {geometry.CatalogStart + b})";
            device.Read(geometry.CatalogStart + b, block);
            MetadataBlock.Check(block, MetadataKind.Catalog, geometry.Nonce, b, structure);
            var payload = MetadataBlock.Payload((ReadOnlySpan<byte>)block);
            for (var i = 0; i < SlotsPerBlock; i++)
            {
                var slot = (b * SlotsPerBlock) + i;
                var record = payload.Slice(i * RecordSize, RecordSize);
                if (record[0] == 0)
                {
                    if (record.IndexOfAnyExcept((byte)0) >= 0)
                        throw new CorruptMetadataException(structure, $"free slot {i} is not empty");
                    continue;
                }
                var entry = catalog.Decode(record, slot, structure);
                if (!names.Add(entry.Name))
                    throw new CorruptMetadataException(structure, $"image name '{entry.Name}' appears twice");
                var overlap = catalog.FindOverlap(entry.FirstLbn, entry.ExtentBlocks);
                if (overlap is not null)
                    throw new CorruptMetadataException(structure, $"image '{entry.Name}' overlaps image '{overlap.Name}'");
                catalog._slots[slot] = entry;
            }
        }
        return catalog;
    }

    /// <summary>The image called <paramref name="name"/>, or null.</summary>
    public ImageEntry? Find(string name) => Array.Find(_slots, s => s is not null && string.Equals(s.Name, name, StringComparison.Ordinal));

    /// <summary>
    /// The image called <paramref name="name"/>; throws <see cref="ArgumentException"/> naming it
    /// when there is none, or when it is a backup still being ingested.
    /// </summary>
    public ImageEntry Get(string name)
    {
        var entry = Find(name) ?? throw new ArgumentException($"no image named '{name}' in this pool");
        if (entry.Kind == ImageKind.Pending)
            throw new ArgumentException($"image '{name}' is a backup still being ingested");
        return entry;
    }

    /// <summary>Null when <paramref name="name"/> may name an image, else why not.</summary>
    public static string? ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name))
            return "an image name must not be empty";
        if (name is "." or "..")
            return $"'{name}' cannot be an image name";
        int bytes;
        try
        {
            bytes = StrictUtf8.GetByteCount(name);
        }
        catch (EncoderFallbackException)
        {
            return "an image name must be valid Unicode";
        }
        if (bytes > MaxNameBytes)
            return $"image name '{name}' is {bytes} bytes long in UTF-8, at most {MaxNameBytes} are allowed";
        foreach (var c in name)
        {
            if (c == '/')
                return $"image name '{name}' must not contain '/'";
            if (char.IsControl(c))
                return $"image name {name.ReplaceLineEndings(" ")} must not contain control characters (U+{(int)c:X4})";
        }
        return null;
    }

    /// <summary>
    /// Validates a new image and finds it a free slot and the first free extent that fits
    /// (nothing is written). Throws <see cref="ArgumentException"/> for a bad name or size or a
    /// duplicate, <see cref="VdoException"/> when no logical space or catalog slot is left.
    /// </summary>
    public ImageEntry Plan(string name, long sizeBytes, ImageKind kind, DateTimeOffset created)
    {
        var slot = CheckNew(name, sizeBytes, kind);
        var blocks = sizeBytes / VdoConstants.BlockSize;
        var first = FindFreeExtent(blocks, largest: false)
            ?? throw new VdoException($"no free logical space for an image of {sizeBytes} bytes ({blocks} blocks): the pool's logical size is {_geometry.LogicalBlocks} blocks, {FreeLogicalBlocks()} of them in no image (grow the logical size: it is thin)");
        return new ImageEntry
        {
            Name = name,
            Kind = kind,
            SizeBytes = sizeBytes,
            FirstLbn = first,
            ExtentBlocks = ExtentOf(first, blocks),
            Created = created,
            Slot = slot,
        };
    }

    /// <summary>
    /// The checks of <see cref="Plan"/> that do not depend on the logical space: name, kind, size,
    /// no duplicate, a free slot (which it returns). Throws as <see cref="Plan"/> does.
    /// </summary>
    public int CheckNew(string name, long sizeBytes, ImageKind kind)
    {
        var problem = ValidateName(name);
        if (problem is not null)
            throw new ArgumentException(problem);
        if (!Enum.IsDefined(kind))
            throw new ArgumentException($"unknown image kind {(int)kind}");
        if (sizeBytes <= 0 || sizeBytes % VdoConstants.BlockSize != 0)
            throw new ArgumentException($"image size {sizeBytes} bytes is not a positive multiple of {VdoConstants.BlockSize} (4 KiB)");
        if (Find(name) is not null)
            throw new ArgumentException($"an image named '{name}' already exists");
        var slot = Array.IndexOf(_slots, null);
        if (slot < 0)
            throw new VdoException($"the image catalog is full ({_slots.Length} images)");
        return slot;
    }

    /// <summary>
    /// The smallest logical size (at least the current one) in which an image of
    /// <paramref name="sizeBytes"/> finds a free extent: after the last extent, on a page boundary.
    /// </summary>
    public long LogicalBlocksToFit(long sizeBytes)
    {
        var blocks = sizeBytes / VdoConstants.BlockSize;
        if (FindFreeExtent(blocks, largest: false) is not null)
            return _geometry.LogicalBlocks;
        var end = _slots.Where(s => s is not null).Select(s => s!.FirstLbn + s.ExtentBlocks).DefaultIfEmpty(0).Max();
        var first = (end + Geometry.EntriesPerPage - 1) / Geometry.EntriesPerPage * Geometry.EntriesPerPage;
        return Math.Max(_geometry.LogicalBlocks, first + blocks);
    }

    /// <summary>
    /// Follows an online logical growth: the last extent, clipped at the old end of the logical
    /// space, becomes whole pages again (the LBNs it gains were never writable, so never mapped).
    /// </summary>
    public void GrowLogical(Geometry grown)
    {
        if (grown.LogicalBlocks < _geometry.LogicalBlocks)
            throw new ArgumentOutOfRangeException(nameof(grown), "the logical size only grows");
        _geometry = grown;
        for (var i = 0; i < _slots.Length; i++)
        {
            if (_slots[i] is { } e)
                _slots[i] = e with { ExtentBlocks = ExtentOf(e.FirstLbn, e.SizeBytes / VdoConstants.BlockSize) };
        }
    }

    /// <summary>
    /// Plans a pending backup record on the largest free extent of the logical space (nothing is
    /// written): for a stream of unknown length. Same errors as <see cref="Plan"/>.
    /// </summary>
    public ImageEntry PlanLargest(string name, DateTimeOffset created)
    {
        var first = FindFreeExtent(1, largest: true)
            ?? throw new VdoException($"no free logical space for a backup: all {_geometry.LogicalBlocks} blocks of the pool's logical space are in images");
        var end = _slots.Where(s => s is not null && s.FirstLbn > first).Select(s => s!.FirstLbn).DefaultIfEmpty(_geometry.LogicalBlocks).Min();
        return Plan(name, (end - first) * VdoConstants.BlockSize, ImageKind.Pending, created);
    }

    /// <summary>
    /// Rewrites the record in <paramref name="entry"/>'s slot as <paramref name="replacement"/>
    /// (same slot, an extent inside the old one) and makes it durable: one catalog block written
    /// through the double-write area, so the change is atomic across a crash.
    /// </summary>
    public void Replace(ImageEntry entry, ImageEntry replacement, MetadataWriter writer, IBlockDevice device)
    {
        if (!ReferenceEquals(_slots[entry.Slot], entry) || replacement.Slot != entry.Slot)
            throw new InvalidOperationException($"image '{entry.Name}' is not in slot {entry.Slot}");
        if (replacement.FirstLbn != entry.FirstLbn || replacement.ExtentBlocks > entry.ExtentBlocks)
            throw new InvalidOperationException($"image '{entry.Name}' may only shrink in place");
        Persist(entry.Slot, replacement, writer, device);
    }

    /// <summary>The record of a committed backup of <paramref name="blocks"/> blocks in a pending record's place.</summary>
    public ImageEntry Shrunk(ImageEntry pending, long blocks, ImageKind kind) => pending with
    {
        Kind = kind,
        SizeBytes = blocks * VdoConstants.BlockSize,
        ExtentBlocks = ExtentOf(pending.FirstLbn, blocks),
    };

    /// <summary>Adds a planned image and makes the catalog durable.</summary>
    public void Add(ImageEntry entry, MetadataWriter writer, IBlockDevice device)
    {
        if (_slots[entry.Slot] is not null)
            throw new InvalidOperationException($"catalog slot {entry.Slot} is taken");
        Persist(entry.Slot, entry, writer, device);
    }

    /// <summary>Removes an image's record and makes the catalog durable.</summary>
    public void Remove(ImageEntry entry, MetadataWriter writer, IBlockDevice device)
    {
        if (!ReferenceEquals(_slots[entry.Slot], entry))
            throw new InvalidOperationException($"image '{entry.Name}' is not in slot {entry.Slot}");
        Persist(entry.Slot, null, writer, device);
    }

    private void Persist(int slot, ImageEntry? value, MetadataWriter writer, IBlockDevice device)
    {
        var b = slot / SlotsPerBlock;
        var block = new byte[VdoConstants.BlockSize];
        var payload = MetadataBlock.Payload(block.AsSpan());
        for (var i = 0; i < SlotsPerBlock; i++)
        {
            var s = (b * SlotsPerBlock) + i;
            var entry = s == slot ? value : _slots[s];
            if (entry is not null)
                Encode(entry, payload.Slice(i * RecordSize, RecordSize));
        }
        MetadataBlock.Seal(block, MetadataKind.Catalog, _geometry.Nonce, b);
        // Torn-safe in place (double-write area), then durable before the caller sees success.
        writer.Write(_geometry.CatalogStart + b, block);
        writer.Commit();
        device.Flush();
        _slots[slot] = value;
    }

    private static void Encode(ImageEntry entry, Span<byte> record)
    {
        var length = StrictUtf8.GetBytes(entry.Name, record.Slice(NameOffset, MaxNameBytes));
        record[0] = (byte)length;
        record[1] = (byte)entry.Kind;
        BinaryPrimitives.WriteInt64LittleEndian(record[FirstLbnOffset..], entry.FirstLbn);
        BinaryPrimitives.WriteInt64LittleEndian(record[SizeOffset..], entry.SizeBytes);
        BinaryPrimitives.WriteInt64LittleEndian(record[CreatedOffset..], entry.Created.ToUnixTimeMilliseconds());
    }

    private ImageEntry Decode(ReadOnlySpan<byte> record, int slot, string structure)
    {
        var where = $"slot {slot % SlotsPerBlock}";
        var length = record[0];
        if (length > MaxNameBytes)
            throw new CorruptMetadataException(structure, $"{where}: name length {length}");
        string name;
        try
        {
            name = StrictUtf8.GetString(record.Slice(NameOffset, length));
        }
        catch (DecoderFallbackException)
        {
            throw new CorruptMetadataException(structure, $"{where}: name is not valid UTF-8");
        }
        var problem = ValidateName(name);
        if (problem is not null)
            throw new CorruptMetadataException(structure, $"{where}: {problem}");
        var kind = (ImageKind)record[1];
        if (!Enum.IsDefined(kind))
            throw new CorruptMetadataException(structure, $"{where} ('{name}'): unknown kind {record[1]}");
        var first = BinaryPrimitives.ReadInt64LittleEndian(record[FirstLbnOffset..]);
        var size = BinaryPrimitives.ReadInt64LittleEndian(record[SizeOffset..]);
        var created = BinaryPrimitives.ReadInt64LittleEndian(record[CreatedOffset..]);
        var blocks = size / VdoConstants.BlockSize;
        if (size <= 0 || size % VdoConstants.BlockSize != 0 || first < 0 || first % Geometry.EntriesPerPage != 0
            || first >= _geometry.LogicalBlocks || blocks > _geometry.LogicalBlocks - first)
            throw new CorruptMetadataException(structure, $"{where} ('{name}'): extent of {size} bytes at LBN {first} does not fit the {_geometry.LogicalBlocks}-block logical space");
        if (created < DateTimeOffset.MinValue.ToUnixTimeMilliseconds() || created > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
            throw new CorruptMetadataException(structure, $"{where} ('{name}'): impossible creation time {created}");
        return new ImageEntry
        {
            Name = name,
            Kind = kind,
            SizeBytes = size,
            FirstLbn = first,
            ExtentBlocks = ExtentOf(first, blocks),
            Created = DateTimeOffset.FromUnixTimeMilliseconds(created),
            Slot = slot,
        };
    }

    /// <summary>Whole block-map pages, clipped to the logical space (its last page may be partial).</summary>
    private long ExtentOf(long first, long blocks)
    {
        var pages = (blocks + Geometry.EntriesPerPage - 1) / Geometry.EntriesPerPage;
        return Math.Min(pages * Geometry.EntriesPerPage, _geometry.LogicalBlocks - first);
    }

    private long? FindFreeExtent(long blocks, bool largest)
    {
        var cursor = 0L;
        long? best = null;
        var bestLength = 0L;
        foreach (var e in _slots.Where(s => s is not null).Select(s => s!).OrderBy(s => s.FirstLbn))
        {
            if (e.FirstLbn - cursor >= blocks && !largest)
                return cursor;
            if (e.FirstLbn - cursor >= Math.Max(blocks, bestLength + 1))
                (best, bestLength) = (cursor, e.FirstLbn - cursor);
            cursor = e.FirstLbn + e.ExtentBlocks; // extents end on a page boundary or at the end
        }
        if (_geometry.LogicalBlocks - cursor >= Math.Max(blocks, bestLength + 1))
            best = cursor;
        return best;
    }

    private long FreeLogicalBlocks() =>
        _geometry.LogicalBlocks - _slots.Where(s => s is not null).Sum(s => s!.ExtentBlocks);

    private ImageEntry? FindOverlap(long first, long blocks) =>
        Array.Find(_slots, s => s is not null && s.FirstLbn < first + blocks && first < s.FirstLbn + s.ExtentBlocks);
}
