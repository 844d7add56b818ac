using System.Text.RegularExpressions;
using DataflowVdo.Workloads;

namespace DataflowVdo.Tests.Workloads;

[TestFixture]
public sealed class ComputeCeilingTests
{
    [Test]
    public void Ceiling_is_positive_on_a_small_block_set()
    {
        using var folder = TempCorpusFolder.WithTextFiles();
        using var corpus = new Corpus(folder.Path);
        var set = BlockSet.Generate(new BlockGenerator(WorkloadMix.Mixed, seed: 42, corpus), 256);

        double megabytesPerSecond = ComputeCeiling.Measure(set, TimeSpan.FromMilliseconds(50));

        Assert.That(megabytesPerSecond, Is.GreaterThan(0).And.Not.EqualTo(double.PositiveInfinity));
    }

    [Test]
    public void Description_names_workload_seed_and_corpus()
    {
        using var folder = TempCorpusFolder.WithTextFiles(files: 2);
        using var corpus = new Corpus(folder.Path);

        string line = WorkloadDescription.Format(WorkloadMix.Mixed, 42, corpus);

        Assert.That(line, Does.Match(
            $"^workload=mixed seed=42 corpus={Regex.Escape(corpus.Path)} blocks=32 lz4Ratio=0\\.\\d\\d$"));
        Assert.That(WorkloadDescription.Format(WorkloadMix.Unique, 7, null), Is.EqualTo("workload=unique seed=7 corpus=none"));
    }
}
