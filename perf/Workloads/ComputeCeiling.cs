using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Hashing;

namespace DataflowVdo.Workloads;

/// <summary>
/// The compute ceiling of docs/workloads.md: XxHash128 of every non-zero block plus LZ4 (level fast)
/// of every corpus and random block, on all cores, with no pipeline, I/O or metadata. It is
/// what the CPU could do if every other cost were zero; a pipeline's throughput divided by it
/// is its efficiency. Figures are MB/s of input, MB = 10^6 bytes, counting every block.
/// </summary>
public static class ComputeCeiling
{
    /// <summary>Timed passes repeat until at least this long has elapsed, so small sets still give a stable figure.</summary>
    public static readonly TimeSpan DefaultMinimumDuration = TimeSpan.FromSeconds(1);

    // Warm-up covers enough blocks for the JIT to tier up the hash and LZ4 loops.
    private const int WarmupBlocks = 4096;
    private const int WarmupRounds = 3;

    // Keeps the results observable so no work can be optimised away.
    private static long _sink;

    /// <summary>Measures the ceiling on <paramref name="blocks"/>; MB/s of input.</summary>
    /// <param name="blocks">The prepared blocks, the same ones the pipeline is given.</param>
    /// <param name="minimumDuration">Repeat full passes until this much time is spent (default one second).</param>
    /// <param name="degreeOfParallelism">Threads to use (default <see cref="Environment.ProcessorCount"/>).</param>
    public static double Measure(BlockSet blocks, TimeSpan? minimumDuration = null, int? degreeOfParallelism = null)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        if (blocks.Count == 0)
        {
            throw new ArgumentException("The ceiling needs at least one block.", nameof(blocks));
        }

        int threads = degreeOfParallelism ?? Environment.ProcessorCount;
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var minimum = minimumDuration ?? DefaultMinimumDuration;

        for (int round = 0; round < WarmupRounds; round++)
        {
            RunPass(blocks, Math.Min(blocks.Count, WarmupBlocks), threads);
        }

        long passes = 0;
        var clock = Stopwatch.StartNew();
        do
        {
            RunPass(blocks, blocks.Count, threads);
            passes++;
        }
        while (clock.Elapsed < minimum);

        double bytes = (double)passes * blocks.Count * BlockBytes.Size;
        return bytes / clock.Elapsed.TotalSeconds / 1e6;
    }

    /// <summary>The work for one block: hash unless zero, LZ4 if new content; returns a value to sink.</summary>
    internal static long ProcessBlock(ReadOnlySpan<byte> block, BlockKind kind, Span<byte> scratch)
    {
        if (kind == BlockKind.Zero)
        {
            return 0;
        }

        long result = (long)(ulong)XxHash128.HashToUInt128(block);
        if (kind is BlockKind.Corpus or BlockKind.Random)
        {
            result += BlockBytes.Lz4CompressedSize(block, scratch);
        }

        return result;
    }

    private static void RunPass(BlockSet blocks, int count, int threads)
    {
        // Several ranges per thread so one slow range (all random blocks, say) does not leave a core idle.
        int rangeSize = Math.Max(64, count / (threads * 8));
        var ranges = Partitioner.Create(0, count, rangeSize);
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        Parallel.ForEach(ranges, options, range =>
        {
            Span<byte> scratch = stackalloc byte[BlockBytes.Lz4ScratchSize];
            long local = 0;
            for (int i = range.Item1; i < range.Item2; i++)
            {
                local ^= ProcessBlock(blocks[i], blocks.Kinds[i], scratch);
            }

            Interlocked.Add(ref _sink, local);
        });
    }
}
