using DataflowVdo.Workloads;

namespace DataflowVdo.Tests.Workloads;

[TestFixture]
public sealed class AddressGeneratorTests
{
    [Test]
    public void Random_first_pass_touches_every_lbn_once_then_stays_in_the_working_set()
    {
        var addresses = new AddressGenerator(seed: 42, workingSetBlocks: 1000);

        var firstPass = Enumerable.Range(0, 1000).Select(_ => addresses.Next()).ToList();
        Assert.That(addresses.InFirstPass, Is.False);
        var steady = Enumerable.Range(0, 5000).Select(_ => addresses.Next()).ToList();

        Assert.That(firstPass.Order(), Is.EqualTo(Enumerable.Range(0, 1000).Select(i => (long)i)));
        Assert.That(firstPass.Take(10), Is.Not.EqualTo(Enumerable.Range(0, 10).Select(i => (long)i)), "shuffled");
        Assert.That(steady, Is.All.InRange(0L, 999L));
        Assert.That(steady.Distinct().Count(), Is.GreaterThan(900), "uniform over the working set");
    }

    [Test]
    public void Same_seed_gives_the_same_addresses()
    {
        var first = new AddressGenerator(seed: 5, workingSetBlocks: 500);
        var second = new AddressGenerator(seed: 5, workingSetBlocks: 500);

        Assert.That(Enumerable.Range(0, 2000).Select(_ => second.Next()),
            Is.EqualTo(Enumerable.Range(0, 2000).Select(_ => first.Next())));
    }

    [Test]
    public void Sequential_wraps_at_the_working_set()
    {
        var addresses = new AddressGenerator(seed: 1, workingSetBlocks: 3, sequential: true);

        Assert.That(Enumerable.Range(0, 7).Select(_ => addresses.Next()), Is.EqualTo(new long[] { 0, 1, 2, 0, 1, 2, 0 }));
    }
}
