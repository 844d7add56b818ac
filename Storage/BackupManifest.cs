using System.Buffers.Binary;
using System.Security.Cryptography;

namespace DataflowVdo.Storage;

/// <summary>
/// What a backup image records about its stream, kept in the image's own last blocks:
/// <c>[data blocks][chunk-map blocks][manifest block]</c>. The manifest block (metadata kind
/// <see cref="MetadataKind.BackupManifest"/>) holds the stream's length and SHA-256, the
/// alignment, chunk sizes and count, the block counts and the blocks the ingest added to the
/// pool; the chunk map (kind <see cref="MetadataKind.BackupChunkMap"/>, <see cref="LengthsPerBlock"/>
/// 32-bit chunk lengths a block, <c>cdc</c> only) gives each chunk's length: chunk <c>i</c> starts
/// on the block after chunk <c>i - 1</c>'s last, its tail zero-padded. Every block carries the
/// metadata header (version, pool nonce, index, CRC-32), and the manifest also the SHA-256 of
/// the chunk map, so a damaged map is named, never silently misread. These blocks go through
/// the data path like the data (dedupe, compression, the journal) and are durable before the
/// catalog record that points at them is committed.
/// </summary>
public sealed record BackupManifest
{
    /// <summary>Chunk lengths per chunk-map block.</summary>
    public const int LengthsPerBlock = MetadataBlock.PayloadSize / 4; // 1016

    /// <summary>Chunk size used to lay out a <c>fixed</c> stream (no map is stored for it).</summary>
    public const int FixedChunkBytes = 1 << 20;

    /// <summary>Length of the original stream in bytes.</summary>
    public required long StreamLength { get; init; }

    /// <summary>SHA-256 of the original stream.</summary>
    public required byte[] Sha256 { get; init; }

    /// <summary>How the stream was laid out.</summary>
    public required BackupAlignment Alignment { get; init; }

    /// <summary>Chunker sizes (min, average, max) of a <c>cdc</c> ingest; zeros for <c>fixed</c>.</summary>
    public required (int Min, int Average, int Max) ChunkSizes { get; init; }

    /// <summary>Blocks of data (chunks with their padding).</summary>
    public required long DataBlocks { get; init; }

    /// <summary>Blocks the pool's data space grew by during the ingest (other writers included, if any).</summary>
    public required long StoredBlocks { get; init; }

    /// <summary>Chunk lengths in stream order (<c>cdc</c>); empty for <c>fixed</c>.</summary>
    public required int[] ChunkLengths { get; init; }

    /// <summary>Blocks of the chunk map.</summary>
    public long MapBlocks => (ChunkLengths.Length + LengthsPerBlock - 1) / LengthsPerBlock;

    /// <summary>Blocks of the whole image: data, chunk map, manifest.</summary>
    public long TotalBlocks => DataBlocks + MapBlocks + 1;

    /// <summary>Percent of the stream's bytes not stored (dedupe, compression, zeros); negative never shown.</summary>
    public double SavingPercent => StreamLength == 0 ? 0 : Math.Max(0, 100.0 - (StoredBlocks * (double)VdoConstants.BlockSize * 100.0 / StreamLength));

    private const int LengthOffset = 0;
    private const int ShaOffset = 8;
    private const int AlignmentOffset = 40;
    private const int MinOffset = 44;
    private const int AverageOffset = 48;
    private const int MaxOffset = 52;
    private const int ChunkCountOffset = 56;
    private const int DataBlocksOffset = 64;
    private const int StoredOffset = 72;
    private const int MapShaOffset = 80;

    /// <summary>Encodes the chunk map blocks followed by the manifest block (TotalBlocks - DataBlocks blocks).</summary>
    public byte[] Encode(ulong nonce)
    {
        var blocks = new byte[(MapBlocks + 1) * VdoConstants.BlockSize];
        for (var b = 0; b < MapBlocks; b++)
        {
            var block = blocks.AsSpan(b * VdoConstants.BlockSize, VdoConstants.BlockSize);
            var payload = MetadataBlock.Payload(block);
            for (var i = 0; i < LengthsPerBlock && (b * LengthsPerBlock) + i < ChunkLengths.Length; i++)
                BinaryPrimitives.WriteInt32LittleEndian(payload[(i * 4)..], ChunkLengths[(b * LengthsPerBlock) + i]);
            MetadataBlock.Seal(block, MetadataKind.BackupChunkMap, nonce, b);
        }
        var mapSpan = blocks.AsSpan(0, (int)MapBlocks * VdoConstants.BlockSize);
        var header = blocks.AsSpan((int)MapBlocks * VdoConstants.BlockSize);
        var p = MetadataBlock.Payload(header);
        BinaryPrimitives.WriteInt64LittleEndian(p[LengthOffset..], StreamLength);
        Sha256.CopyTo(p[ShaOffset..]);
        p[AlignmentOffset] = (byte)Alignment;
        BinaryPrimitives.WriteInt32LittleEndian(p[MinOffset..], ChunkSizes.Min);
        BinaryPrimitives.WriteInt32LittleEndian(p[AverageOffset..], ChunkSizes.Average);
        BinaryPrimitives.WriteInt32LittleEndian(p[MaxOffset..], ChunkSizes.Max);
        BinaryPrimitives.WriteInt64LittleEndian(p[ChunkCountOffset..], ChunkLengths.Length);
        BinaryPrimitives.WriteInt64LittleEndian(p[DataBlocksOffset..], DataBlocks);
        BinaryPrimitives.WriteInt64LittleEndian(p[StoredOffset..], StoredBlocks);
        SHA256.HashData(mapSpan, p[MapShaOffset..]);
        MetadataBlock.Seal(header, MetadataKind.BackupManifest, nonce, 0);
        return blocks;
    }

    /// <summary>
    /// Decodes and validates the manifest of an image of <paramref name="imageBlocks"/> blocks.
    /// <paramref name="readBlocks"/>(first, buffer) reads image blocks from index <c>first</c>.
    /// Throws <see cref="CorruptMetadataException"/> naming <paramref name="structure"/>.
    /// </summary>
    public static BackupManifest Decode(long imageBlocks, ulong nonce, Action<long, byte[]> readBlocks, string structure)
    {
        var header = new byte[VdoConstants.BlockSize];
        readBlocks(imageBlocks - 1, header);
        MetadataBlock.Check(header, MetadataKind.BackupManifest, nonce, 0, structure);
        var p = MetadataBlock.Payload((ReadOnlySpan<byte>)header);
        var length = BinaryPrimitives.ReadInt64LittleEndian(p[LengthOffset..]);
        var alignment = (BackupAlignment)p[AlignmentOffset];
        var count = BinaryPrimitives.ReadInt64LittleEndian(p[ChunkCountOffset..]);
        var dataBlocks = BinaryPrimitives.ReadInt64LittleEndian(p[DataBlocksOffset..]);
        var stored = BinaryPrimitives.ReadInt64LittleEndian(p[StoredOffset..]);
        if (!Enum.IsDefined(alignment) || length < 0 || dataBlocks < 0 || count < 0 || count > dataBlocks
            || (alignment == BackupAlignment.Fixed && (count != 0 || dataBlocks != (length + VdoConstants.BlockSize - 1) / VdoConstants.BlockSize)))
            throw new CorruptMetadataException(structure, $"impossible manifest (alignment {(int)alignment}, length {length}, {count} chunks, {dataBlocks} data blocks)");
        var mapBlocks = (count + LengthsPerBlock - 1) / LengthsPerBlock;
        if (dataBlocks + mapBlocks + 1 != imageBlocks)
            throw new CorruptMetadataException(structure, $"manifest describes {dataBlocks + mapBlocks + 1} blocks, the image has {imageBlocks}");
        var map = new byte[mapBlocks * VdoConstants.BlockSize];
        if (mapBlocks > 0)
            readBlocks(dataBlocks, map);
        if (!SHA256.HashData(map).AsSpan().SequenceEqual(p.Slice(MapShaOffset, 32)))
            throw new CorruptMetadataException(structure, "the chunk map does not match its SHA-256 in the manifest");
        var lengths = new int[count];
        long total = 0, blocks = 0;
        for (var i = 0; i < count; i++)
        {
            var block = map.AsSpan((int)(i / LengthsPerBlock) * VdoConstants.BlockSize, VdoConstants.BlockSize);
            if (i % LengthsPerBlock == 0)
                MetadataBlock.Check(block, MetadataKind.BackupChunkMap, nonce, i / LengthsPerBlock, structure + " chunk map");
            var n = BinaryPrimitives.ReadInt32LittleEndian(MetadataBlock.Payload(block)[((i % LengthsPerBlock) * 4)..]);
            if (n <= 0)
                throw new CorruptMetadataException(structure, $"chunk {i} has length {n}");
            lengths[i] = n;
            total += n;
            blocks += (n + VdoConstants.BlockSize - 1) / VdoConstants.BlockSize;
        }
        if (alignment != BackupAlignment.Fixed && (total != length || blocks != dataBlocks))
            throw new CorruptMetadataException(structure, $"the chunk map covers {total} bytes in {blocks} blocks, the manifest says {length} bytes in {dataBlocks}");
        return new BackupManifest
        {
            StreamLength = length,
            Sha256 = p.Slice(ShaOffset, 32).ToArray(),
            Alignment = alignment,
            ChunkSizes = (BinaryPrimitives.ReadInt32LittleEndian(p[MinOffset..]), BinaryPrimitives.ReadInt32LittleEndian(p[AverageOffset..]), BinaryPrimitives.ReadInt32LittleEndian(p[MaxOffset..])),
            DataBlocks = dataBlocks,
            StoredBlocks = stored,
            ChunkLengths = lengths,
        };
    }
}
