using BenchmarkDotNet.Attributes;
using DataflowVdo.Blocks.Chunking;

namespace DataflowVdo.Perf.Micro;

/// <summary>
/// The content-defined chunker alone over 64 MiB of random data (one core): GB/s is
/// 64 MiB / mean time. Target (issue 20): at least 1.5 GB/s per core.
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet derives from benchmark classes.</remarks>
[MemoryDiagnoser]
public class ChunkerBenchmarks
{
    private const int Length = 64 * 1024 * 1024;
    private byte[] _data = [];
    private GearChunker _chunker = null!;

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Length];
        new Random(20).NextBytes(_data);
        _chunker = new GearChunker(GearTable.ForPool(0x2026), ChunkerParameters.Default);
    }

    /// <summary>Cuts 64 MiB into chunks; returns the chunk count.</summary>
    [Benchmark]
    public int Chunk64MiB()
    {
        var chunks = 0;
        var data = (ReadOnlySpan<byte>)_data;
        while (!data.IsEmpty)
        {
            var cut = _chunker.FindCut(data, final: true);
            data = data[cut..];
            chunks++;
        }
        return chunks;
    }
}
