using DataflowVdo.Blocks.Stages;

namespace DataflowVdo.Tests.Engine;

/// <summary>The stage table is complete and docs/architecture.md shows it as it is.</summary>
public sealed class StageTableTests
{
    [Test]
    public void EveryStepHasOneRowAndEveryTransitionItNamesIsAllowed()
    {
        var steps = Enum.GetValues<Stage>().Where(s => s is not (Stage.Parked or Stage.Done)).ToList();
        Assert.That(StageTable.All.Select(r => r.Stage), Is.EquivalentTo(steps));
        foreach (var row in StageTable.All)
        {
            foreach (var t in row.Next)
                Assert.That(StageTable.Allows(row.Stage, t.To), Is.True, $"{row.Stage} -> {t.To}");
            Assert.That(StageTable.Allows(row.Stage, Stage.Parked), Is.True, "any step may park its request");
        }
        Assert.That(StageTable.Allows(Stage.Compress, Stage.Journal), Is.False, "a fragment is packed or written before it is journaled");
        Assert.That(StageTable.Allows(Stage.Name, Stage.Journal), Is.False);
    }

    [Test]
    public void TheArchitecturePageListsEveryStepWithItsZoneAndWhatMayFollow()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "DataflowVdo.sln")))
            dir = dir.Parent;
        Assume.That(dir, Is.Not.Null, "the tests run inside the source tree");
        var rows = File.ReadAllLines(Path.Combine(dir!.FullName, "docs", "architecture.md")).Where(l => l.StartsWith("| `", StringComparison.Ordinal)).ToList();
        foreach (var row in StageTable.All)
        {
            var line = rows.SingleOrDefault(l => l.StartsWith($"| `{row.Stage}`", StringComparison.Ordinal));
            Assert.That(line, Is.Not.Null, $"docs/architecture.md has a row for {row.Stage}");
            var cells = line!.Split(" | ");
            Assert.That(cells[1].Replace(" ", "").Replace("-", ""), Does.StartWith(row.Zone.ToString().ToLowerInvariant()).IgnoreCase, $"{row.Stage}'s zone");
            foreach (var t in row.Next)
                Assert.That(cells[^1], Does.Contain($"`{t.To}` ({t.Label}"), $"{row.Stage} -> {t.To} is listed");
        }
    }
}
