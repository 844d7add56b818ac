namespace DataflowVdo.Storage;

/// <summary>
/// A device with a volatile write cache, for crash tests (VDO's RAM layer / "dory" device):
/// it remembers every 4 KiB write since the last flush. <see cref="Crash"/> returns the image
/// a power cut could leave: everything flushed, plus a random subset of the unflushed writes,
/// each optionally torn at 512-byte sector granularity.
/// </summary>
public sealed class CrashSimulatingDevice : IBlockDevice
{
    private readonly MemoryBlockDevice _durable;
    private readonly MemoryBlockDevice _current;
    private readonly List<(long Pbn, byte[] Data)> _unflushed = [];
    private readonly Lock _sync = new();

    public CrashSimulatingDevice(long blockCount)
    {
        _durable = new MemoryBlockDevice(blockCount);
        _current = new MemoryBlockDevice(blockCount);
    }

    /// <summary>A device whose durable content is <paramref name="image"/> (a crash image to recover, or to crash again).</summary>
    public static CrashSimulatingDevice FromImage(MemoryBlockDevice image)
    {
        var device = new CrashSimulatingDevice(image.BlockCount);
        var all = image.ToArray();
        device._durable.Write(0, all);
        device._current.Write(0, all);
        return device;
    }

    public long BlockCount => _durable.BlockCount;

    /// <summary>Called for every block written, before it is cached (instrumented invariant tests).</summary>
    public Action<long, ReadOnlyMemory<byte>>? OnWrite { get; set; }

    /// <summary>Called at every flush, before the cache is made durable.</summary>
    public Action? OnFlush { get; set; }

    /// <summary>
    /// Power cut at the <paramref name="writes"/>-th block write from now: that write and every
    /// write or flush after it fail with <see cref="IOException"/>, so the crash image can be
    /// taken in the middle of any operation (a journal commit, a checkpoint, a packer write).
    /// </summary>
    public void CutPowerAfter(long writes) => _writesUntilCut = writes;

    /// <summary>True once the power cut has happened.</summary>
    public bool PowerCut { get; private set; }

    private long _writesUntilCut = long.MaxValue;

    private void CheckPower()
    {
        if (PowerCut || --_writesUntilCut < 0)
        {
            PowerCut = true;
            throw new IOException("simulated power cut");
        }
    }

    /// <summary>Blocks written since the last flush.</summary>
    public int UnflushedWrites
    {
        get
        {
            lock (_sync)
                return _unflushed.Count;
        }
    }

    /// <summary>True when <paramref name="pbn"/> has a write that is not yet durable.</summary>
    public bool IsUnflushed(long pbn)
    {
        lock (_sync)
            return _unflushed.Exists(w => w.Pbn == pbn);
    }

    public void Read(long pbn, Span<byte> destination)
    {
        lock (_sync)
            _current.Read(pbn, destination);
    }

    public void Read(long pbn, IReadOnlyList<Memory<byte>> destinations)
    {
        foreach (var d in destinations)
        {
            Read(pbn, d.Span);
            pbn += d.Length / VdoConstants.BlockSize;
        }
    }

    public void Write(long pbn, ReadOnlySpan<byte> source)
    {
        lock (_sync)
        {
            for (var i = 0; i < source.Length / VdoConstants.BlockSize; i++)
            {
                CheckPower();
                var copy = source.Slice(i * VdoConstants.BlockSize, VdoConstants.BlockSize).ToArray();
                OnWrite?.Invoke(pbn + i, copy);
                _unflushed.Add((pbn + i, copy));
                _current.Write(pbn + i, copy);
            }
        }
    }

    public void Write(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources)
    {
        foreach (var s in sources)
        {
            Write(pbn, s.Span);
            pbn += s.Length / VdoConstants.BlockSize;
        }
    }

    public void Flush()
    {
        lock (_sync)
        {
            if (PowerCut)
                throw new IOException("simulated power cut");
            OnFlush?.Invoke();
            foreach (var (pbn, data) in _unflushed)
                _durable.Write(pbn, data);
            _unflushed.Clear();
        }
    }

    /// <summary>
    /// The image after a power cut: durable state plus each unflushed write kept with probability
    /// <paramref name="keep"/>, in order; with <paramref name="tear"/>, a kept write may land only
    /// partly (a random subset of its eight sectors).
    /// </summary>
    public MemoryBlockDevice Crash(Random random, bool tear, double keep = 0.5, double tearProbability = 0.25)
    {
        lock (_sync)
        {
            var image = new MemoryBlockDevice(BlockCount);
            var all = _durable.ToArray();
            image.Write(0, all);
            var block = new byte[VdoConstants.BlockSize];
            foreach (var (pbn, data) in _unflushed)
            {
                if (random.NextDouble() >= keep)
                    continue;
                if (tear && random.NextDouble() < tearProbability)
                {
                    image.Read(pbn, block);
                    for (var s = 0; s < VdoConstants.BlockSize / VdoConstants.SectorSize; s++)
                    {
                        if (s % 2 == 0 ? random.Next(2) == 0 : s == 1)
                            data.AsSpan(s * VdoConstants.SectorSize, VdoConstants.SectorSize).CopyTo(block.AsSpan(s * VdoConstants.SectorSize));
                    }
                    image.Write(pbn, block);
                }
                else
                {
                    image.Write(pbn, data);
                }
            }
            return image;
        }
    }

    public void Dispose()
    {
    }
}
