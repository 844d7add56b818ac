using BenchmarkDotNet.Attributes;
using DataflowVdo.Workloads;
using K4os.Compression.LZ4;

namespace DataflowVdo.Perf.Micro;

/// <summary>
/// LZ4 (level fast) encode and decode of a 4 KiB corpus block. LZ4's speed depends on the data
/// far more than the hash's does, so each invocation runs over <see cref="SampleBlocks"/>
/// blocks spread across the corpus and the figure is per block.
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet derives from benchmark classes.</remarks>
[MemoryDiagnoser]
public class Lz4Benchmarks
{
    public const int SampleBlocks = 64;

    private BlockSet _blocks = new(0);
    private byte[][] _compressed = [];
    private byte[] _target = [];

    [GlobalSetup]
    public void Setup()
    {
        _blocks = BenchmarkBlocks.CorpusSample(SampleBlocks);
        _target = new byte[BlockBytes.Lz4ScratchSize];
        _compressed = new byte[_blocks.Count][];
        for (int i = 0; i < _blocks.Count; i++)
        {
            int length = LZ4Codec.Encode(_blocks[i], _target, LZ4Level.L00_FAST);
            _compressed[i] = _target.AsSpan(0, length).ToArray();
        }
    }

    [Benchmark(OperationsPerInvoke = SampleBlocks)]
    public int EncodeCorpusBlock()
    {
        int total = 0;
        for (int i = 0; i < _blocks.Count; i++)
        {
            total += LZ4Codec.Encode(_blocks[i], _target, LZ4Level.L00_FAST);
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = SampleBlocks)]
    public int DecodeCorpusBlock()
    {
        int total = 0;
        for (int i = 0; i < _compressed.Length; i++)
        {
            total += LZ4Codec.Decode(_compressed[i], _target.AsSpan(0, BlockBytes.Size));
        }

        return total;
    }
}
