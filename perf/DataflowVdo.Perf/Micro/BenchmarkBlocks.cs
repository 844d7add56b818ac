using DataflowVdo.Workloads;

namespace DataflowVdo.Perf.Micro;

/// <summary>
/// Blocks for the micro-benchmarks: an evenly spread sample of the corpus, so a figure stands
/// for the corpus and not for whichever file sorts first. BenchmarkDotNet runs each benchmark in
/// its own process, so the corpus is chosen by the <c>DVDO_CORPUS</c> environment variable
/// rather than a command-line option.
/// </summary>
internal static class BenchmarkBlocks
{
    public static string CorpusPath => Environment.GetEnvironmentVariable("DVDO_CORPUS") is { Length: > 0 } path
        ? path
        : Corpus.DefaultPath;

    public static BlockSet CorpusSample(int blocks)
    {
        using var corpus = new Corpus(CorpusPath);
        return corpus.Sample(blocks);
    }
}
