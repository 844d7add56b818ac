using BenchmarkDotNet.Attributes;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Workloads;

namespace DataflowVdo.Perf.Micro;

/// <summary>
/// One inline <see cref="Volume.Write"/> of a 4 KiB corpus block to a memory device, in steady
/// state: setup fills every LBN of the working set once, so measured writes are overwrites
/// (decrements and frees included) at random LBNs. Each write stamps a counter into the first
/// 8 bytes of its corpus block so no two writes are duplicates however long BenchmarkDotNet
/// runs; the rest of the block, and so its compressibility, is the corpus's.
/// </summary>
/// <remarks>Not sealed: BenchmarkDotNet derives from benchmark classes.</remarks>
[MemoryDiagnoser]
public class VolumeWriteBenchmarks
{
    // 256 MiB: big enough to defeat the caches, small enough that setup takes seconds.
    private const int WorkingSetBlocks = 65_536;
    private const int CorpusBlocks = 16_384;

    // Room for every measured write to allocate without a free, plus metadata.
    private const long DeviceBlocks = 1 << 20;

    private MemoryBlockDevice? _device;
    private Volume? _volume;
    private BlockSet _corpus = new(0);
    private AddressGenerator _addresses = new(seed: 42, workingSetBlocks: 1);
    private readonly byte[] _block = new byte[BlockBytes.Size];
    private long _stamp;

    [GlobalSetup]
    public void Setup()
    {
        _corpus = BenchmarkBlocks.CorpusSample(CorpusBlocks);
        _device = new MemoryBlockDevice(DeviceBlocks);
        _volume = Volume.Format(_device, new FormatParameters { LogicalBlocks = WorkingSetBlocks });
        _addresses = new AddressGenerator(seed: 42, WorkingSetBlocks);
        while (_addresses.InFirstPass)
        {
            Write();
        }

        _volume.Flush();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _volume?.Dispose();
        _device?.Dispose();
    }

    [Benchmark]
    public void Write()
    {
        long stamp = _stamp++;
        _corpus[(int)(stamp % _corpus.Count)].CopyTo(_block);
        BitConverter.TryWriteBytes(_block, stamp);
        _volume!.Write(_addresses.Next(), _block);
    }
}
