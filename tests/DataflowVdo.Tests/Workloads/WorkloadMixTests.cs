using DataflowVdo.Workloads;

namespace DataflowVdo.Tests.Workloads;

[TestFixture]
public sealed class WorkloadMixTests
{
    [TestCase("unique", 0, 0, 0, 100)]
    [TestCase("compressible", 0, 0, 100, 0)]
    [TestCase("dup", 0, 90, 10, 0)]
    [TestCase("zero", 100, 0, 0, 0)]
    [TestCase("mixed", 5, 50, 45, 0)]
    [TestCase("read", 5, 50, 45, 0)]
    [TestCase("dup50", 0, 50, 0, 50)]
    public void Named_mixes_match_WORKLOADS_md(string name, int zero, int duplicate, int corpus, int random)
    {
        var mix = WorkloadMix.Parse(name);

        Assert.Multiple(() =>
        {
            Assert.That(mix.Name, Is.EqualTo(name));
            Assert.That(mix.ZeroPercent, Is.EqualTo(zero));
            Assert.That(mix.DuplicatePercent, Is.EqualTo(duplicate));
            Assert.That(mix.CorpusPercent, Is.EqualTo(corpus));
            Assert.That(mix.RandomPercent, Is.EqualTo(random));
            Assert.That(mix.IsRead, Is.EqualTo(name == "read"));
        });
    }

    [Test]
    public void Parse_ignores_case()
    {
        Assert.That(WorkloadMix.Parse("MiXeD"), Is.SameAs(WorkloadMix.Mixed));
    }

    [Test]
    public void Parse_lists_the_valid_names_for_an_unknown_one()
    {
        var error = Assert.Throws<ArgumentException>(() => WorkloadMix.Parse("mixd"));

        Assert.That(error!.Message, Does.Contain("mixd").And.Contain("unique, compressible, dup, zero, mixed, read, dup50"));
    }

    [Test]
    public void Percentages_must_add_up_to_100()
    {
        Assert.Throws<ArgumentException>(() => _ = new WorkloadMix("bad", zero: 10, duplicate: 10, corpus: 10, random: 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new WorkloadMix("bad", zero: -10, duplicate: 10, corpus: 100, random: 0));
    }
}
