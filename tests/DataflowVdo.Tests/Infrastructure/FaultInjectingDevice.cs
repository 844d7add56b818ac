using DataflowVdo.Storage;
namespace DataflowVdo.Tests.Infrastructure;

/// <summary>
/// A device that fails chosen writes or reads with an I/O error (EIO), or holds a chosen write
/// or read until released (outside the inner device's lock, so every other I/O goes on: a request caught
/// between its data write and its journal entry), passing everything else to a crash-simulating device.
/// </summary>
public sealed class FaultInjectingDevice(CrashSimulatingDevice inner) : IBlockDevice
{
    private readonly ManualResetEventSlim _release = new(false);

    public CrashSimulatingDevice Inner => inner;

    /// <summary>When set, the next single-block write whose data it returns true for waits until <see cref="Release"/>.</summary>
    public Func<ReadOnlyMemory<byte>, bool>? HoldNextWrite { get; set; }

    /// <summary>
    /// When set, the next read of a block it returns true for waits, once it has read the block,
    /// until <see cref="Release"/>: a request caught between reading a block and acting on it.
    /// </summary>
    public Func<long, bool>? HoldAfterNextRead { get; set; }

    /// <summary>Set once the held write (or read) has arrived.</summary>
    public ManualResetEventSlim Holding { get; } = new(false);

    /// <summary>Lets the held write (and any later one) go on.</summary>
    public void Release() => _release.Set();

    /// <summary>When set, the next write for which it returns true fails once.</summary>
    public Func<long, bool>? FailNextWrite { get; set; }

    public long BlockCount => inner.BlockCount;

    /// <summary>When set, the next read for which it returns true fails once.</summary>
    public Func<long, bool>? FailNextRead { get; set; }

    public void Read(long pbn, Span<byte> destination)
    {
        if (FailNextRead is { } fail && fail(pbn))
        {
            FailNextRead = null;
            throw new IOException($"injected read error at PBN {pbn}");
        }
        inner.Read(pbn, destination);
        HoldIfChosen(pbn, destination.Length / VdoConstants.BlockSize);
    }

    public void Read(long pbn, IReadOnlyList<Memory<byte>> destinations)
    {
        inner.Read(pbn, destinations);
        var blocks = 0;
        foreach (var d in destinations)
            blocks += d.Length / VdoConstants.BlockSize;
        HoldIfChosen(pbn, blocks);
    }

    private void HoldIfChosen(long pbn, int blocks)
    {
        if (HoldAfterNextRead is not { } hold)
            return;
        for (var i = 0; i < blocks; i++)
        {
            if (hold(pbn + i))
            {
                HoldAfterNextRead = null;
                Holding.Set();
                _release.Wait();
                return;
            }
        }
    }

    public void Write(long pbn, ReadOnlySpan<byte> source)
    {
        if (HoldNextWrite is { } hold && source.Length == VdoConstants.BlockSize && hold(source.ToArray()))
        {
            HoldNextWrite = null;
            Holding.Set();
            _release.Wait();
        }
        for (var i = 0; i < source.Length / VdoConstants.BlockSize; i++)
        {
            if (FailNextWrite is { } fail && fail(pbn + i))
            {
                FailNextWrite = null;
                throw new IOException($"injected write error at PBN {pbn + i}");
            }
        }
        inner.Write(pbn, source);
    }

    public void Write(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources)
    {
        foreach (var s in sources)
        {
            Write(pbn, s.Span);
            pbn += s.Length / VdoConstants.BlockSize;
        }
    }

    public void Flush() => inner.Flush();

    public void Dispose()
    {
        _release.Set();
    }
}

/// <summary>Helpers to build crash images by hand (e.g. a write torn in one chosen sector).</summary>
public static class CrashImages
{
    /// <summary>A crash-simulating device whose durable content is <paramref name="image"/>.</summary>
    public static CrashSimulatingDevice Load(MemoryBlockDevice image)
    {
        var device = new CrashSimulatingDevice(image.BlockCount);
        device.Write(0, image.ToArray());
        device.Flush();
        return device;
    }

    /// <summary>Copies sector <paramref name="sector"/> of block <paramref name="pbn"/> from <paramref name="from"/> into <paramref name="to"/> (a torn write: that sector kept its old content).</summary>
    public static void CopySector(MemoryBlockDevice from, MemoryBlockDevice to, long pbn, int sector)
    {
        var a = new byte[VdoConstants.BlockSize];
        var b = new byte[VdoConstants.BlockSize];
        from.Read(pbn, a);
        to.Read(pbn, b);
        a.AsSpan(sector * VdoConstants.SectorSize, VdoConstants.SectorSize).CopyTo(b.AsSpan(sector * VdoConstants.SectorSize));
        to.Write(pbn, b);
    }
}
