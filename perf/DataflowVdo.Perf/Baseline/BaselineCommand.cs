using DataflowVdo.Workloads;

namespace DataflowVdo.Perf.Baseline;

/// <summary>The <c>baseline</c> mode: runs the chosen workloads and prints the machine, the corpus, tables and JSON.</summary>
internal static class BaselineCommand
{
    public static int Run(IReadOnlyList<string> args)
    {
        BaselineOptions options;
        try
        {
            options = BaselineOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(BaselineOptions.Usage);
            return 2;
        }

        // With --json, stdout carries only JSON lines so it can be redirected to a .jsonl file.
        var human = options.Json ? Console.Error : Console.Out;
        if (!Directory.Exists(options.CorpusPath))
        {
            Console.Error.WriteLine($"Corpus folder '{options.CorpusPath}' does not exist.");
            return 2;
        }

        using var corpus = new Corpus(options.CorpusPath);
        human.WriteLine(MachineInfo.Current);
        human.WriteLine($"seed={options.Seed} blocks={options.Blocks} workingSet={options.WorkingSetBlocks} " +
            $"addresses={(options.Sequential ? "sequential" : "random")} window={options.DuplicateWindow} timeLimit={options.TimeLimit.TotalSeconds}s");
        human.WriteLine(corpus.Describe());
        human.WriteLine("scheme=inline (synchronous Volume.Write on one thread: queue depth 1), device=memory");

        var runner = new BaselineRunner(options, corpus, human);
        var results = new List<BaselineResult>();
        foreach (var mix in options.Workloads)
        {
            var result = runner.Run(mix);
            results.Add(result);
            human.WriteLine(result.Description);
            if (options.Json)
            {
                ResultReport.WriteJson(Console.Out, result);
            }
        }

        ResultReport.WriteTables(human, results);
        return results.Any(r => r.Mismatches > 0) ? 1 : 0;
    }
}
