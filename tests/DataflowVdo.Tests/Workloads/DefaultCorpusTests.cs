using DataflowVdo.Workloads;

namespace DataflowVdo.Tests.Workloads;

/// <summary>The demo and bench default corpus exists wherever .NET runs.</summary>
public sealed class DefaultCorpusTests
{
    [Test]
    public void TheDefaultCorpusIsAnInstalledDotnetFolder()
    {
        var path = Corpus.DefaultOrInstalledPath();
        Assert.That(Directory.Exists(Path.Combine(path, "shared", "Microsoft.NETCore.App")), Is.True, path);
        using var corpus = new Corpus(path);
        var block = new byte[4096];
        Assert.That(corpus.TryRead(block), Is.True);
        Assert.That(block.AsSpan().IndexOfAnyExcept((byte)0), Is.GreaterThanOrEqualTo(0), "corpus blocks are never all zero");
    }
}
