using SharpFuzz;

namespace DataflowVdo.Fuzz;

/// <summary>
/// <c>DataflowVdo.Fuzz TARGET</c> runs one target under AFL (SharpFuzz, out of process);
/// <c>DataflowVdo.Fuzz --seeds DIR</c> writes each target's seed inputs to DIR/TARGET/;
/// <c>DataflowVdo.Fuzz --list</c> names the targets. See perf/README.md for the AFL recipe.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "--list")
        {
            foreach (var name in FuzzTargets.All.Keys)
                Console.WriteLine(name);
            return 0;
        }
        if (args.Length == 2 && args[0] == "--seeds")
        {
            foreach (var name in FuzzTargets.All.Keys)
            {
                var dir = Path.Combine(args[1], name);
                Directory.CreateDirectory(dir);
                var seeds = FuzzTargets.Seeds(name);
                for (var i = 0; i < seeds.Count; i++)
                    File.WriteAllBytes(Path.Combine(dir, $"seed{i}"), seeds[i]);
            }
            return 0;
        }
        if (args.Length == 1 && FuzzTargets.All.TryGetValue(args[0], out var target))
        {
            // The template pool is built at the first input (instrumented code must not run before
            // SharpFuzz has set up AFL's shared memory), then reused by every later one.
            Fuzzer.OutOfProcess.Run(stream =>
            {
                using var memory = new MemoryStream();
                stream.CopyTo(memory);
                target(memory.GetBuffer().AsSpan(0, (int)memory.Length));
            });
            return 0;
        }
        Console.Error.WriteLine("usage: DataflowVdo.Fuzz TARGET | --seeds DIR | --list");
        Console.Error.WriteLine("targets: " + string.Join(", ", FuzzTargets.All.Keys));
        return 2;
    }
}
