using System.CommandLine;

namespace DataflowVdo.Cli.Commands;

/// <summary><c>dvdo check POOL</c>: proves I7 (reference counts equal mappings) without writing to the pool; exits 3 naming each inconsistency.</summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var pool = new Argument<string>("pool") { Description = "pool file" };
        var common = new CommonOptions();
        var command = new Command("check", "verify that every reference count equals the number of mappings to its block; read-only (a pool not closed cleanly is recovered in memory first)") { pool };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var path = r.GetValue(pool)!;
            // Read-only: a check never changes the pool (a pool not closed cleanly is recovered in memory only).
            using var volume = PoolFile.OpenForInspection(path, common.Load(r));
            var problems = volume.Check();
            var s = volume.GetStatistics();
            if (volume.Recovered)
                Console.WriteLine($"{path}: not closed cleanly: checked as recovered in memory (nothing written; the next open or mount recovers it)");
            if (problems.Count == 0)
            {
                Console.WriteLine($"{path}: consistent ({s.LogicalBlocksUsed} logical blocks mapped to {s.DataBlocksUsed} data blocks, {s.BlockMapPages} block-map pages)");
                return 0;
            }
            foreach (var p in problems)
                Console.Error.WriteLine($"{path}: {p}");
            Console.Error.WriteLine($"{path}: {problems.Count} inconsistenc{(problems.Count == 1 ? "y" : "ies")}");
            return CommandRunner.Damaged;
        }));
        return command;
    }
}
