using System.Globalization;

namespace DataflowVdo.Workloads;

/// <summary>
/// The one-line description every benchmark prints with its results, so a figure can be
/// traced to its blocks: <c>workload=mixed seed=42 corpus=/usr/share/dotnet blocks=153000 lz4Ratio=0.59</c>.
/// </summary>
public static class WorkloadDescription
{
    /// <summary>
    /// The description line. With a corpus, its block count and LZ4 ratio are measured (a read
    /// of the corpus the first time; see <see cref="Corpus.CountBlocks"/>); without one the line
    /// ends in <c>corpus=none</c>.
    /// </summary>
    public static string Format(WorkloadMix mix, long seed, Corpus? corpus, int lz4SampleBlocks = 20_000)
    {
        ArgumentNullException.ThrowIfNull(mix);
        string head = string.Create(CultureInfo.InvariantCulture, $"workload={mix.Name} seed={seed}");
        return corpus is null ? $"{head} corpus=none" : $"{head} {corpus.Describe(lz4SampleBlocks)}";
    }

    /// <summary>The description line of a generator's mix, seed and corpus.</summary>
    public static string Format(BlockGenerator generator, int lz4SampleBlocks = 20_000)
    {
        ArgumentNullException.ThrowIfNull(generator);
        return Format(generator.Mix, generator.Seed, generator.Corpus, lz4SampleBlocks);
    }
}
