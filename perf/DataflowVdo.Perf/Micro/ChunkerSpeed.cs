using System.Diagnostics;
using DataflowVdo.Blocks.Chunking;

namespace DataflowVdo.Perf.Micro;

/// <summary>
/// The <c>chunker</c> mode: a Stopwatch measurement of the chunker alone on one core (256 MiB of
/// random data, best of seven passes), quicker than the BenchmarkDotNet run and printed as GB/s.
/// </summary>
internal static class ChunkerSpeed
{
    public static int Run()
    {
        var data = new byte[256 << 20];
        new Random(20).NextBytes(data);
        var chunker = new GearChunker(GearTable.ForPool(0x2026), ChunkerParameters.Default);
        var best = double.MaxValue;
        var chunks = 0;
        for (var pass = 0; pass < 7; pass++)
        {
            var watch = Stopwatch.StartNew();
            chunks = 0;
            var rest = (ReadOnlySpan<byte>)data;
            while (!rest.IsEmpty)
            {
                rest = rest[chunker.FindCut(rest, final: true)..];
                chunks++;
            }
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        Console.WriteLine($"chunker: {data.Length / best / 1e9:0.00} GB/s on one core (best of 7 over 256 MiB), {chunks} chunks, mean {data.Length / chunks / 1024.0:0.0} KiB");
        return 0;
    }
}
