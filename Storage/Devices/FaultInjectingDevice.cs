namespace DataflowVdo.Storage;

/// <summary>
/// A device that fails reads, writes and flushes with an I/O error (EIO) — once at a chosen
/// point, for good on chosen blocks (a bad sector), or at random at seeded rates — or holds a
/// chosen write or read until released (outside the inner device's lock, so every other I/O
/// goes on: a request caught between its data write and its journal entry), passing
/// everything else to a crash-simulating device. A failed write changes nothing on the device.
/// </summary>
public sealed class FaultInjectingDevice(CrashSimulatingDevice inner, int seed = 0) : IBlockDevice
{
    private readonly ManualResetEventSlim _release = new(false);
    private readonly Random _random = new(seed);
    private readonly Lock _sync = new();
    private long _readErrors;
    private long _writeErrors;
    private long _flushErrors;

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

    /// <summary>When set, the next write for which it returns true fails once (a transient error).</summary>
    public Func<long, bool>? FailNextWrite { get; set; }

    /// <summary>When set, the next read for which it returns true fails once (a transient error).</summary>
    public Func<long, bool>? FailNextRead { get; set; }

    /// <summary>When set, every write of a block it returns true for fails (a permanent error: a bad sector).</summary>
    public Func<long, bool>? FailWritesAt { get; set; }

    /// <summary>When set, every read of a block it returns true for fails (a permanent error: an unreadable sector).</summary>
    public Func<long, bool>? FailReadsAt { get; set; }

    /// <summary>The next this-many flushes fail (transient); <see cref="int.MaxValue"/> fails every flush from now on.</summary>
    public int FailFlushes { get; set; }

    /// <summary>Probability that a block read fails (transient, seeded).</summary>
    public double ReadErrorRate { get; set; }

    /// <summary>Probability that a block write fails (transient, seeded); a vectored write fails at its first failing block.</summary>
    public double WriteErrorRate { get; set; }

    /// <summary>Probability that a flush fails (transient, seeded).</summary>
    public double FlushErrorRate { get; set; }

    /// <summary>Errors injected so far, by kind.</summary>
    public (long Reads, long Writes, long Flushes) Injected => (Interlocked.Read(ref _readErrors), Interlocked.Read(ref _writeErrors), Interlocked.Read(ref _flushErrors));

    public long BlockCount => inner.BlockCount;

    public void Read(long pbn, Span<byte> destination)
    {
        CheckRead(pbn, destination.Length / VdoConstants.BlockSize);
        inner.Read(pbn, destination);
        HoldIfChosen(pbn, destination.Length / VdoConstants.BlockSize);
    }

    public void Read(long pbn, IReadOnlyList<Memory<byte>> destinations)
    {
        var blocks = 0;
        foreach (var d in destinations)
            blocks += d.Length / VdoConstants.BlockSize;
        CheckRead(pbn, blocks);
        inner.Read(pbn, destinations);
        HoldIfChosen(pbn, blocks);
    }

    private void CheckRead(long pbn, int blocks)
    {
        for (var i = 0; i < blocks; i++)
        {
            if (FailNextRead is { } fail && fail(pbn + i))
            {
                FailNextRead = null;
                Throw(ref _readErrors, $"injected read error at PBN {pbn + i}");
            }
            if (FailReadsAt is { } bad && bad(pbn + i))
                Throw(ref _readErrors, $"injected read error at PBN {pbn + i} (unreadable sector)");
            if (Chance(ReadErrorRate))
                Throw(ref _readErrors, $"injected read error at PBN {pbn + i} (random)");
        }
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
                Throw(ref _writeErrors, $"injected write error at PBN {pbn + i}");
            }
            if (FailWritesAt is { } bad && bad(pbn + i))
                Throw(ref _writeErrors, $"injected write error at PBN {pbn + i} (bad sector)");
            if (Chance(WriteErrorRate))
                Throw(ref _writeErrors, $"injected write error at PBN {pbn + i} (random)");
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

    public void Flush()
    {
        if (FailFlushes > 0)
        {
            if (FailFlushes != int.MaxValue)
                FailFlushes--;
            Throw(ref _flushErrors, "injected flush error");
        }
        if (Chance(FlushErrorRate))
            Throw(ref _flushErrors, "injected flush error (random)");
        inner.Flush();
    }

    private bool Chance(double rate)
    {
        if (rate <= 0)
            return false;
        lock (_sync)
            return _random.NextDouble() < rate;
    }

    private static void Throw(ref long counter, string message)
    {
        Interlocked.Increment(ref counter);
        throw new IOException(message);
    }

    public void Dispose()
    {
        _release.Set();
    }
}
