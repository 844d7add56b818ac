using DataflowVdo.Fuzz;

namespace DataflowVdo.Tests.Storage;

/// <summary>
/// The short, deterministic fuzz run of issue 21: each decoder's fuzz target (perf/Fuzz, the
/// same code AFL runs) gets seeded mutations of valid inputs — bit flips, bytes set, runs zeroed
/// or filled with garbage, truncation — and must refuse bad input with a clear error (a
/// <c>VdoException</c>) or accept it, never crash. <c>DATAFLOWVDO_FUZZ_ITERATIONS</c> sets the
/// mutations per target (default 150); a failing input is saved under the temp directory.
/// </summary>
public sealed class DecoderFuzzTests
{
    private static int Iterations =>
        int.TryParse(Environment.GetEnvironmentVariable("DATAFLOWVDO_FUZZ_ITERATIONS"), out var n) && n > 0 ? n : 150;

    public static IEnumerable<string> Targets => FuzzTargets.All.Keys;

    [TestCaseSource(nameof(Targets))]
    [CancelAfter(300_000)]
    public void MutatedInputsAreRefusedClearlyOrAcceptedNeverCrash(string name)
    {
        var target = FuzzTargets.All[name];
        var seeds = FuzzTargets.Seeds(name);
        foreach (var seed in seeds)
            target(seed); // a valid input runs clean
        var random = new Random(name.Aggregate(17, (h, c) => (h * 31) + c));
        for (var i = 0; i < Iterations; i++)
        {
            var input = Mutate(seeds[random.Next(seeds.Count)], random);
            try
            {
                target(input);
            }
            catch (Exception e)
            {
                var path = Path.Combine(Path.GetTempPath(), $"dvdo-fuzz-{name}-{i}.bin");
                File.WriteAllBytes(path, input);
                Assert.Fail($"{name}: mutation {i} crashed the decoder with {e.GetType().Name}: {e.Message} (input saved to {path})\n{e.StackTrace}");
            }
        }
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var input = (byte[])seed.Clone();
        for (var n = random.Next(1, 5); n > 0 && input.Length > 0; n--)
        {
            var at = random.Next(input.Length);
            switch (random.Next(6))
            {
                case 0:
                    input[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    input[at] = (byte)random.Next(256);
                    break;
                case 2:
                    input[at] = new byte[] { 0, 1, 0x7F, 0x80, 0xFE, 0xFF }[random.Next(6)];
                    break;
                case 3:
                    Array.Clear(input, at, Math.Min(input.Length - at, random.Next(1, 513)));
                    break;
                case 4:
                    random.NextBytes(input.AsSpan(at, Math.Min(input.Length - at, random.Next(1, 65))));
                    break;
                default:
                    input = input[..random.Next(input.Length)]; // truncated
                    break;
            }
        }
        return input;
    }
}
