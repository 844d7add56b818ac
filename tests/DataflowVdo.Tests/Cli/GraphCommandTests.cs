using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using DataflowVdo.Cli.Graph;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Cli;

/// <summary><c>dvdo graph</c>: well-formed dot and Mermaid drawings of the configured graph, and its errors.</summary>
[NonParallelizable]
public sealed partial class GraphCommandTests
{
    private const string MessagePassing = "Pipeline:Scheme=MessagePassing";

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(["graph", .. args]);

    [GeneratedRegex("""^(?:  |    )"([^"]+)" \[label="((?:[^"\\]|\\.)*)", shape=\w+\];$""")]
    private static partial Regex DotNode();

    [GeneratedRegex("""^  "([^"]+)" -> "([^"]+)" \[label="(?:[^"\\]|\\.)*"(?:, style=\w+(?:, color=\w+)?)?\];$""")]
    private static partial Regex DotEdge();

    [GeneratedRegex("""^(?:    |        )(\w+)(?:\[|\[/|>|\(\[)"([^"]*)"(?:\]|/\]|\]\))$""")]
    private static partial Regex MermaidNode();

    [GeneratedRegex("""^    (\w+) (?:-->|-\.->)\|"[^"]*"\| (\w+)$""")]
    private static partial Regex MermaidEdge();

    [GeneratedRegex("""^    subgraph \w+\["[^"]*"\]$""")]
    private static partial Regex MermaidSubgraph();

    /// <summary>Node id → label, after checking that every line is a known statement and every edge joins declared nodes.</summary>
    private static Dictionary<string, string> ParseDot(string dot)
    {
        var lines = dot.TrimEnd('\n').Split('\n').Where(l => !l.StartsWith("//", StringComparison.Ordinal)).ToList();
        Assert.That(lines[0], Is.EqualTo("digraph dvdo {"));
        Assert.That(lines[^1], Is.EqualTo("}"));
        Assert.That(dot.Count(c => c == '{'), Is.EqualTo(dot.Count(c => c == '}')), "balanced braces");
        Assert.That(lines, Does.Contain("  rankdir=LR;"));
        var nodes = new Dictionary<string, string>();
        var edges = new List<(string From, string To)>();
        foreach (var line in lines.Skip(1).SkipLast(1))
        {
            if (DotNode().Match(line) is { Success: true } n)
                nodes.Add(n.Groups[1].Value, n.Groups[2].Value);
            else if (DotEdge().Match(line) is { Success: true } e)
                edges.Add((e.Groups[1].Value, e.Groups[2].Value));
            else
                Assert.That(line, Does.Match("""^  (rankdir=LR;|node \[.*\];|edge \[.*\];|subgraph "cluster_\d+" \{|\})$|^    (label="[^"]*"|style=dashed);$"""), "unexpected dot statement");
        }
        Assert.That(edges, Is.Not.Empty);
        foreach (var (from, to) in edges)
            Assert.That(nodes.Keys, Does.Contain(from).And.Contain(to), $"edge {from} -> {to} joins declared nodes");
        return nodes;
    }

    private static Dictionary<string, string> ParseMermaid(string mermaid)
    {
        var lines = mermaid.TrimEnd('\n').Split('\n').Where(l => !l.StartsWith("%%", StringComparison.Ordinal)).ToList();
        Assert.That(lines[0], Is.EqualTo("flowchart LR"));
        var nodes = new Dictionary<string, string>();
        var edges = new List<(string From, string To)>();
        foreach (var line in lines.Skip(1))
        {
            if (MermaidNode().Match(line) is { Success: true } n)
                nodes.Add(n.Groups[1].Value, n.Groups[2].Value);
            else if (MermaidEdge().Match(line) is { Success: true } e)
                edges.Add((e.Groups[1].Value, e.Groups[2].Value));
            else if (!MermaidSubgraph().IsMatch(line) && line != "    end")
                Assert.Fail($"unexpected mermaid line: {line}");
        }
        Assert.That(edges, Is.Not.Empty);
        foreach (var (from, to) in edges)
            Assert.That(nodes.Keys, Does.Contain(from).And.Contain(to), $"edge {from} --> {to} joins declared nodes");
        return nodes;
    }

    [Test]
    public void DotIsTheDefaultAndIsWellFormed()
    {
        var r = Run("--set", MessagePassing);
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(Run("--format", "dot", "--set", MessagePassing).Out, Is.EqualTo(r.Out));
        Assert.That(r.Out, Does.StartWith("digraph"));
        var nodes = ParseDot(r.Out);
        Assert.That(nodes.Keys, Is.SupersetOf(new[] { "admit", "hash", "logical0", "hashzone0", "physical0", "verify", "compress", "packer", "datawrite", "journal", "ack" }));
        foreach (var (id, label) in nodes)
            Assert.That(label, Does.Match(@"\\nparallelism \d+, capacity (unbounded|\d+), batch (unlimited|\d+)$"), id);
        Assert.That(nodes["admit"], Does.Contain("capacity 2048"), "admission is bounded by the request pool");
    }

    [Test]
    public void MermaidStartsWithFlowchartAndIsWellFormed()
    {
        var r = Run("--format", "mermaid", "--set", MessagePassing);
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Out, Does.StartWith("flowchart LR\n"));
        var nodes = ParseMermaid(r.Out);
        Assert.That(nodes.Keys, Does.Contain("hashzone0").And.Contain("journal"));
        foreach (var (id, label) in nodes)
            Assert.That(label, Does.Match(@"<br/>parallelism \d+, capacity (unbounded|\d+), batch (unlimited|\d+)$"), id);
    }

    [TestCase("dot", "// ")]
    [TestCase("mermaid", "%% ")]
    public void TheInlineSchemeDrawsItsOwnGraphWithEveryZoneUnderTheVolumeLock(string format, string comment)
    {
        var inline = Run("--format", format, "--set", "Pipeline:Scheme=Inline", "--set", "Pipeline:LogicalZones=2");
        Assert.That(inline.Code, Is.Zero, inline.Err);
        Assert.That(inline.Out.Split('\n')[0], Does.StartWith(comment).And.Contain("scheme Inline"));
        var nodes = format == "dot" ? ParseDot(inline.Out) : ParseMermaid(inline.Out);
        Assert.That(nodes.Keys, Does.Contain("logical0").And.Not.Contain("logical1"), "the inline scheme runs one zone of each kind");
        var inLock = Cluster(inline.Out, format, "volume lock");
        var onCaller = Cluster(inline.Out, format, "caller");
        Assert.That(inLock, Is.EquivalentTo(new[] { "logical0", "hashzone0", "physical0", "packer", "journal" }));
        Assert.That(onCaller, Is.EquivalentTo(new[] { "hash", "compress", "verify", "datawrite", "read" }));

        var passing = Run("--format", format, "--set", MessagePassing);
        Assert.That(passing.Out, Is.Not.EqualTo(inline.Out));
        Assert.That(Cluster(passing.Out, format, "volume lock"), Is.Empty, "message passing: every node is its own block");
    }

    /// <summary>The node ids drawn inside the cluster (subgraph) of <paramref name="executor"/>.</summary>
    private static List<string> Cluster(string text, string format, string executor)
    {
        var lines = text.Split('\n');
        var start = Array.FindIndex(lines, l => format == "dot" ? l == $"    label=\"{executor}\";" : l.StartsWith("    subgraph ", StringComparison.Ordinal) && l.EndsWith($"[\"{executor}\"]", StringComparison.Ordinal));
        if (start < 0)
            return [];
        var ids = new List<string>();
        for (var i = start + 1; i < lines.Length && lines[i] != (format == "dot" ? "  }" : "    end"); i++)
        {
            var m = format == "dot" ? DotNode().Match(lines[i]) : MermaidNode().Match(lines[i]);
            if (m.Success)
                ids.Add(m.Groups[1].Value);
        }
        return ids;
    }

    [TestCase("Inline")]
    [TestCase("MessagePassing")]
    [TestCase("StructureLocking")]
    public void JsonNamesTheSchemeEveryNodeWithItsExecutorAndEveryEdgeWithItsLabel(string scheme)
    {
        var r = Run("--format", "json", "--scheme", scheme, "--set", "Pipeline:PhysicalZones=2");
        Assert.That(r.Code, Is.Zero, r.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("scheme").GetString(), Is.EqualTo(scheme));
        var nodes = root.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("id").GetString()!);
        Assert.That(nodes.Keys, Does.Contain("admit").And.Contain("logical0").And.Contain("journal").And.Contain("ack"));
        Assert.That(nodes.ContainsKey("physical1"), Is.EqualTo(scheme != "Inline"), "zones expanded where the scheme runs several");
        foreach (var n in nodes.Values)
        {
            Assert.That(n.GetProperty("kind").GetString(), Is.Not.Empty);
            Assert.That(n.GetProperty("executor").GetString(), Is.Not.Empty);
            Assert.That(n.GetProperty("parallelism").GetInt32(), Is.GreaterThanOrEqualTo(0));
        }
        Assert.That(nodes["logical0"].GetProperty("kind").GetString(), Is.EqualTo("logical"));
        Assert.That(nodes["journal"].GetProperty("executor").GetString(), Is.EqualTo(scheme switch
        {
            "Inline" => "volume lock",
            "StructureLocking" => "lock journal",
            _ => "block journal",
        }));
        var edges = root.GetProperty("edges").EnumerateArray().ToList();
        Assert.That(edges, Is.Not.Empty);
        foreach (var e in edges)
        {
            Assert.That(nodes.Keys, Does.Contain(e.GetProperty("from").GetString()).And.Contain(e.GetProperty("to").GetString()));
            Assert.That(e.GetProperty("label").GetString(), Is.Not.Empty);
        }
    }

    [TestCase("Inline")]
    [TestCase("MessagePassing")]
    [TestCase("StructureLocking")]
    public void EveryTransitionABenchRunReportsIsAnEdgeOfTheDrawnGraph(string scheme)
    {
        string[] zones = ["--set", "Pipeline:LogicalZones=2", "--set", "Pipeline:PhysicalZones=2", "--set", "Pipeline:HashZones=2"];
        var bench = CliRunner.Run(["bench", "--workload", "mixed", "--scheme", scheme, "--blocks", "3000", "--working-set", "3000", "--seconds", "1", "--queue-depth", "4", "--json", .. zones]);
        Assert.That(bench.Code, Is.Zero, bench.Err);
        var graph = Run(["--format", "json", "--scheme", scheme, .. zones]);
        Assert.That(graph.Code, Is.Zero, graph.Err);
        using var g = System.Text.Json.JsonDocument.Parse(graph.Out);
        var drawn = g.RootElement.GetProperty("edges").EnumerateArray().Select(e => (e.GetProperty("from").GetString(), e.GetProperty("to").GetString())).ToHashSet();
        using var b = System.Text.Json.JsonDocument.Parse(bench.Out);
        var result = b.RootElement.GetProperty("results")[0];
        var observed = result.GetProperty("edges").EnumerateArray().ToList();
        Assert.That(observed, Is.Not.Empty);
        foreach (var e in observed)
        {
            var pair = (e.GetProperty("from").GetString(), e.GetProperty("to").GetString());
            Assert.That(drawn, Does.Contain(pair), $"bench observed {pair}, which the drawing of {scheme} lacks");
            Assert.That(e.GetProperty("count").GetInt64(), Is.GreaterThan(0));
        }
        Assert.That(observed.Where(e => e.GetProperty("from").GetString() == "admit").Sum(e => e.GetProperty("count").GetInt64()),
            Is.EqualTo(result.GetProperty("operations").GetInt64()), "every write measured entered once");
    }

    [TestCase("dot")]
    [TestCase("mermaid")]
    public void WithoutDedupeThereIsNoHashZoneOrVerify(string format)
    {
        var r = Run("--format", format, "--set", MessagePassing, "--set", "Pipeline:Dedupe=false");
        Assert.That(r.Code, Is.Zero, r.Err);
        var nodes = format == "dot" ? ParseDot(r.Out) : ParseMermaid(r.Out);
        Assert.That(nodes.Keys, Has.None.StartsWith("hashzone").And.None.EqualTo("verify"));
        Assert.That(nodes.Keys, Does.Contain("compress").And.Contain("journal"));
    }

    [TestCase("dot")]
    [TestCase("mermaid")]
    public void HashOnSubmitDrawsNoHashBlockAndAdmitsStraightToTheLogicalZones(string format)
    {
        var r = Run("--format", format, "--set", MessagePassing, "--set", "Pipeline:HashOnSubmit=true", "--set", "Pipeline:LogicalZones=2");
        Assert.That(r.Code, Is.Zero, r.Err);
        var nodes = format == "dot" ? ParseDot(r.Out) : ParseMermaid(r.Out);
        Assert.That(nodes.Keys, Does.Not.Contain("hash").And.Contain("logical1"));
        Assert.That(r.Out, Does.Contain("named on submit"));
    }

    [TestCase("dot")]
    [TestCase("mermaid")]
    public void StepParallelismIsShownOnItsNode(string format)
    {
        var r = Run("--format", format, "--set", MessagePassing, "--set", "Pipeline:Steps:Compress:Parallelism=3",
            "--set", "Pipeline:Steps:Hash:BoundedCapacity=64", "--set", "Pipeline:Steps:Journal:BatchSize=8");
        Assert.That(r.Code, Is.Zero, r.Err);
        var nodes = format == "dot" ? ParseDot(r.Out) : ParseMermaid(r.Out);
        Assert.Multiple(() =>
        {
            Assert.That(nodes["compress"], Does.Contain("parallelism 3,"));
            Assert.That(nodes["hash"], Does.Contain("capacity 64,"));
            Assert.That(nodes["journal"], Does.Contain("batch 8"));
        });
    }

    [TestCase(new[] { "--format", "svg" }, "--format 'svg' is not one of: dot, mermaid, json")]
    [TestCase(new[] { "--scheme", "Dataflow" }, "--scheme 'Dataflow' is not one of: Inline, MessagePassing, StructureLocking")]
    [TestCase(new[] { "--set", "Pipeline:Steps:Logical:Parallelism=2" }, "Pipeline:Steps:Logical:Parallelism")]
    [TestCase(new[] { "--set", "Pipeline:Steps:Compress:Paralelism=2" }, "Paralelism")]
    [TestCase(new[] { "--config", "/nonexistent/dvdo.json" }, "/nonexistent/dvdo.json")]
    public void BadOptionsAreUsageErrorsNamingTheCulprit(string[] args, string message)
    {
        var r = Run(args);
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.StartWith("dvdo: ").And.Contain(message));
        Assert.That(r.Out, Is.Empty);
    }

    [Test]
    public void LabelsAreEscaped()
    {
        Assert.That(DotWriter.Escape("say \"hi\" \\ now\nthen"), Is.EqualTo("say \\\"hi\\\" \\\\ now\\nthen"));
        Assert.That(MermaidWriter.Escape("say \"hi\" #1 <b>"), Is.EqualTo("say #quot;hi#quot; #35;1 #lt;b#gt;"));
        Assert.That(MermaidWriter.Id("end"), Is.Not.EqualTo("end"));
        Assert.That(MermaidWriter.Id("a-b c"), Is.EqualTo("a_b_c"));
    }

    [Test]
    public void GraphvizRendersTheDotOutput()
    {
        var dot = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "dot")).FirstOrDefault(File.Exists);
        if (dot is null)
            Assert.Ignore("Graphviz 'dot' is not on PATH (apt-get install graphviz; bash .ci/run installs every system package the full suite needs); the structural checks above still run");
        var r = Run();
        Assert.That(r.Code, Is.Zero, r.Err);
        using var process = Process.Start(new ProcessStartInfo(dot!, "-Tsvg")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(r.Out);
        process.StandardInput.Close();
        Assert.That(process.WaitForExit(60_000), Is.True, "dot finishes within a minute");
        Assert.That(process.ExitCode, Is.Zero, stderr.Result);
        Assert.That(stdout.Result, Does.Contain("<svg"));
    }

    [Test]
    public void FiguresFromABenchRunLabelEveryBlockWithWhatItDid()
    {
        var json = Path.Combine(Path.GetTempPath(), $"dvdo-figures-{Guid.NewGuid():N}.json");
        try
        {
            string[] zones = ["--set", "Pipeline:LogicalZones=2", "--set", "Pipeline:PhysicalZones=2", "--set", "Pipeline:HashZones=2"];
            var bench = CliRunner.Run(["bench", "--workload", "mixed", "--scheme", "MessagePassing", "--blocks", "3000", "--working-set", "3000", "--seconds", "1", "--queue-depth", "4", "--json", .. zones]);
            Assert.That(bench.Code, Is.Zero, bench.Err);
            File.WriteAllText(json, bench.Out);
            var r = Run(["--figures", json, "--set", MessagePassing, "--format", "mermaid", .. zones]);
            Assert.That(r.Code, Is.Zero, r.Err);
            // Every zone of every kind did work, and its figures land on its own node.
            foreach (var block in new[] { "hash", "logical0", "logical1", "hashzone0", "hashzone1", "physical0", "physical1", "journal", "compress" })
            {
                var m = Regex.Match(r.Out, $@"\b{block}\S*""[^\n]*?(\d+\.\d\d) msg/write, busy \d+%, queue");
                Assert.That(m.Success, Is.True, $"{block} is labelled with its figures");
                Assert.That(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Is.GreaterThan(0), $"{block} handled messages");
            }
            File.WriteAllText(json, "{ not json");
            var bad = Run("--figures", json);
            Assert.That(bad.Code, Is.EqualTo(2));
            Assert.That(bad.Err, Does.Contain("is not the JSON of `dvdo bench --json`"));
        }
        finally
        {
            File.Delete(json);
        }
    }
}
