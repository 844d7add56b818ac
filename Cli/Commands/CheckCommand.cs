using System.CommandLine;

namespace DataflowVdo.Cli.Commands;

/// <summary><c>dvdo check POOL [--repair]</c>: proves I7 (reference counts equal mappings) without writing to the pool; exits 3 naming each inconsistency or read-only mode. <c>--repair</c> is the forced rebuild.</summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var pool = new Argument<string>("pool") { Description = "pool file" };
        var repair = new Option<bool>("--repair") { Description = "forced rebuild: recount every reference from the block map, report each change, clear read-only mode" };
        var dropDamaged = new Option<bool>("--drop-damaged") { Description = "with --repair: read every data block and unmap each LBN whose data fails its checksum (it then reads as zeros; each is reported)" };
        var common = new CommonOptions();
        var command = new Command("check", "verify that every reference count equals the number of mappings to its block, without writing to the pool (a pool not closed cleanly is recovered in memory first); with --repair, rebuild the reference counts and return a pool in read-only mode to service") { pool, repair, dropDamaged };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var path = r.GetValue(pool)!;
            var repairing = r.GetValue(repair);
            if (r.GetValue(dropDamaged) && !repairing)
                throw new ArgumentException("--drop-damaged changes the pool: it goes with --repair");
            // Without --repair a check never changes the pool (a pool not closed cleanly is recovered in memory only).
            using var volume = repairing ? PoolFile.Open(path, common.Load(r)) : PoolFile.OpenForInspection(path, common.Load(r));
            if (repairing)
                Repair(path, volume, r.GetValue(dropDamaged));
            var problems = volume.Check();
            var s = volume.GetStatistics();
            if (volume.Recovered)
                Console.WriteLine(repairing
                    ? $"{path}: recovered from an unclean shutdown"
                    : $"{path}: not closed cleanly: checked as recovered in memory (nothing written; the next open or mount recovers it)");
            if (volume.ReadOnlyReason is { } reason)
            {
                foreach (var p in problems)
                    Console.Error.WriteLine($"{path}: {p}");
                Console.Error.WriteLine($"{path}: in read-only mode: {reason}; 'dvdo check --repair {path}' rebuilds the reference counts and returns it to service");
                return CommandRunner.Damaged;
            }
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

    private static void Repair(string path, Pipeline.Volume volume, bool dropDamaged)
    {
        var result = volume.Repair(dropDamaged);
        foreach (var change in result.Changes)
            Console.WriteLine($"{path}: repaired {change}");
        if (result.ClearedReadOnlyReason is { } reason)
            Console.WriteLine($"{path}: read-only mode cleared (it was entered because: {reason})");
        var dropped = result.DroppedMappings;
        Console.WriteLine(dropDamaged
            ? $"{path}: repair dropped {dropped} mapping(s) to damaged data and rewrote {result.Changes.Count - dropped} reference count(s); the pool is in service"
            : $"{path}: repair rewrote {result.Changes.Count} reference count(s); the pool is in service (mappings to data that fails its checksum are kept: 'dvdo scrub' finds them, --drop-damaged unmaps them)");
    }
}
