using System.IO.Hashing;
using BenchmarkDotNet.Attributes;

namespace DataflowVdo.Perf.Micro;

/// <summary>XxHash128 of one 4 KiB block: the block name every non-zero write computes.</summary>
/// <remarks>Not sealed: BenchmarkDotNet derives from benchmark classes.</remarks>
[MemoryDiagnoser]
public class HashBenchmarks
{
    private byte[] _block = [];

    [GlobalSetup]
    public void Setup() => _block = BenchmarkBlocks.CorpusSample(1)[0].ToArray();

    [Benchmark]
    public UInt128 XxHash128Block() => XxHash128.HashToUInt128(_block);
}
