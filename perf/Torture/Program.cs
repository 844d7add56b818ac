using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using DataflowVdo.Config;

namespace DataflowVdo.Torture;

/// <summary>
/// <c>dotnet run -c Release --project perf/Torture -- --crash-points N --seed S [--scheme NAME|all] [--json]</c>:
/// N random crash points per scheme (<see cref="CrashPoint"/>), reproducible by seed (the
/// workload, the cut and the crash image; thread timing in the concurrent schemes is not).
/// Prints each failure with its point, then <c>crash points: N, failures: F</c> last; exits 1
/// on any failure.
/// </summary>
internal static class Program
{
    private static readonly TimeSpan s_pointDeadline = TimeSpan.FromMinutes(2);

    public static int Main(string[] args)
    {
        var points = new Option<int>("--crash-points") { Description = "crash points per scheme", DefaultValueFactory = _ => 100 };
        var seed = new Option<int>("--seed") { Description = "seed of the run (the same seed runs the same points)", DefaultValueFactory = _ => 1 };
        var scheme = new Option<string>("--scheme") { Description = "Inline, MessagePassing, StructureLocking or all", DefaultValueFactory = _ => "all" };
        var first = new Option<int>("--first-point") { Description = "index of the first point (rerun one failing point: --first-point I --crash-points 1)", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "one JSON object per scheme on standard output before the last line" };
        var set = new Option<string[]>("--set") { Description = "override a configuration key at every point: --set Section:Key=Value (repeatable), e.g. Pipeline:Executors:Logical=all" };
        var root = new RootCommand("crash torture: random crash points per scheme, recovered and verified against a model") { points, seed, scheme, first, json, set };
        root.SetAction(r => Run(r.GetValue(points), r.GetValue(seed), r.GetValue(scheme)!, r.GetValue(first), r.GetValue(json), r.GetValue(set) ?? []));
        return root.Parse(args).Invoke();
    }

    private static int Run(int points, int seed, string schemeName, int first, bool json, string[] sets)
    {
        try
        {
            VdoConfiguration.Load(sets: sets, environment: false); // a bad --set is an error before any point runs
        }
        catch (ConfigurationException e)
        {
            Console.Error.WriteLine($"torture: {e.Message}");
            return 2;
        }
        if (points <= 0)
        {
            Console.Error.WriteLine("torture: --crash-points must be positive");
            return 2;
        }
        SchemeKind[] schemes;
        if (string.Equals(schemeName, "all", StringComparison.OrdinalIgnoreCase))
            schemes = Enum.GetValues<SchemeKind>();
        else if (Enum.TryParse<SchemeKind>(schemeName, ignoreCase: true, out var one))
            schemes = [one];
        else
        {
            Console.Error.WriteLine($"torture: unknown scheme '{schemeName}' (Inline, MessagePassing, StructureLocking or all)");
            return 2;
        }

        var total = 0;
        var failures = 0;
        foreach (var s in schemes)
        {
            var clock = Stopwatch.StartNew();
            var failed = new List<object>();
            var kinds = new Dictionary<WorkloadKind, int>();
            var midWorkload = 0;
            var recoveryCuts = 0;
            for (var i = first; i < first + points; i++)
            {
                var pointSeed = (int)((uint)(seed * 1_000_003) ^ (uint)((int)s * 7919) ^ (uint)(i * 2_654_435_761u)) & 0x7fffffff;
                var point = new CrashPoint(s, pointSeed, sets);
                var error = RunWithDeadline(point);
                kinds[point.Kind] = kinds.GetValueOrDefault(point.Kind) + 1;
                midWorkload += point.CutMidWorkload ? 1 : 0;
                recoveryCuts += point.RecoveryCuts;
                total++;
                if (error is not null)
                {
                    failures++;
                    failed.Add(new { point = i, kind = point.Kind.ToString(), error });
                    Console.Error.WriteLine($"FAIL {s} point {i} ({point.Kind}): {error}   [rerun: --seed {seed} --scheme {s} --first-point {i} --crash-points 1{string.Concat(sets.Select(x => $" --set {x}"))}]");
                }
                if ((i - first + 1) % Math.Max(1, points / 20) == 0 || i == first + points - 1)
                    Console.Error.WriteLine($"{s}: {i - first + 1}/{points} points, {failed.Count} failures, {clock.Elapsed.TotalSeconds:F0} s");
            }
            var seconds = clock.Elapsed.TotalSeconds;
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    scheme = s.ToString(),
                    seed,
                    firstPoint = first,
                    crashPoints = points,
                    failures = failed.Count,
                    seconds = Math.Round(seconds, 1),
                    msPerPoint = Math.Round(seconds * 1000 / points, 1),
                    workloads = kinds.ToDictionary(k => k.Key.ToString(), k => k.Value),
                    cutsMidOperation = midWorkload,
                    cutsDuringRecovery = recoveryCuts,
                    failed,
                }));
            }
            else
            {
                Console.WriteLine($"{s}: {points} crash points ({midWorkload} cut mid-operation, {recoveryCuts} more cuts during recovery), {failed.Count} failures, {seconds:F1} s ({seconds * 1000 / points:F1} ms per point)");
            }
        }
        Console.WriteLine($"crash points: {total}, failures: {failures}");
        return failures == 0 ? 0 : 1;
    }

    /// <summary>Runs a point on its own thread: an exception or a hang is a failure of that point, not of the run.</summary>
    private static string? RunWithDeadline(CrashPoint point)
    {
        var task = Task.Factory.StartNew(() =>
        {
            try
            {
                return point.Run();
            }
            catch (Exception e)
            {
                return $"{e.GetType().Name}: {e.Message}";
            }
        }, TaskCreationOptions.LongRunning);
        return task.Wait(s_pointDeadline) ? task.Result : $"hang: the point did not finish in {s_pointDeadline.TotalMinutes} minutes";
    }
}
