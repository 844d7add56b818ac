namespace DataflowVdo.Workloads;

/// <summary>
/// Blocks generated ahead of a measured run, so generation is not timed: one contiguous array
/// of <see cref="Count"/> × 4096 bytes plus each block's <see cref="BlockKind"/>. Limited to
/// what one .NET array holds (<see cref="MaxBlocks"/>, just under 2 GiB).
/// </summary>
public sealed class BlockSet
{
    /// <summary>The largest set one byte array can hold.</summary>
    public static readonly int MaxBlocks = Array.MaxLength / BlockBytes.Size;

    /// <summary>Creates an all-zero set of <paramref name="count"/> blocks, every kind <see cref="BlockKind.Zero"/>.</summary>
    public BlockSet(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxBlocks);
        Count = count;
        Data = new byte[(long)count * BlockBytes.Size];
        Kinds = new BlockKind[count];
    }

    public int Count { get; }

    /// <summary>Block i is at bytes [i × 4096, (i + 1) × 4096).</summary>
    public byte[] Data { get; }

    public BlockKind[] Kinds { get; }

    /// <summary>Block <paramref name="index"/>.</summary>
    public Span<byte> this[int index] => Data.AsSpan(index * BlockBytes.Size, BlockBytes.Size);

    /// <summary>Block <paramref name="index"/> as memory, for APIs that keep it past a call.</summary>
    public Memory<byte> GetMemory(int index) => Data.AsMemory(index * BlockBytes.Size, BlockBytes.Size);

    /// <summary>Fills a new set with the next <paramref name="count"/> blocks of <paramref name="generator"/>.</summary>
    public static BlockSet Generate(BlockGenerator generator, int count)
    {
        ArgumentNullException.ThrowIfNull(generator);
        var set = new BlockSet(count);
        for (int i = 0; i < count; i++)
        {
            generator.Next(set[i], out set.Kinds[i]);
        }

        return set;
    }

    /// <summary>How many blocks of <paramref name="kind"/> the set holds.</summary>
    public int CountOf(BlockKind kind) => Kinds.Count(k => k == kind);

    /// <summary>
    /// LZ4 (level fast) ratio over the blocks of <paramref name="kind"/> (all blocks when null):
    /// sum(min(compressed, 4096)) / sum(4096); 1 when there is no such block.
    /// </summary>
    public double MeasureLz4Ratio(BlockKind? kind = null)
    {
        byte[] scratch = new byte[BlockBytes.Lz4ScratchSize];
        long compressed = 0;
        long blocks = 0;
        for (int i = 0; i < Count; i++)
        {
            if (kind is null || Kinds[i] == kind)
            {
                compressed += BlockBytes.Lz4CompressedSize(this[i], scratch);
                blocks++;
            }
        }

        return blocks == 0 ? 1.0 : (double)compressed / (blocks * BlockBytes.Size);
    }
}
