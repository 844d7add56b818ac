using DataflowVdo.Storage;

namespace DataflowVdo.Tests.Infrastructure;

/// <summary>
/// A crash-simulating device that holds the first single-block write matching <c>match</c> until
/// <see cref="Open"/> (outside the inner device's lock, so every other I/O goes on), and fails
/// the first one matching <c>fail</c> with an I/O error: a request caught between its data write
/// and its journal entry, on demand.
/// </summary>
public sealed class GatedDevice(CrashSimulatingDevice inner, Func<ReadOnlyMemory<byte>, bool> match, Func<ReadOnlyMemory<byte>, bool>? fail = null) : IBlockDevice
{
    private readonly ManualResetEventSlim _gate = new(false);
    private int _armed = 1;
    private int _failArmed = 1;

    public ManualResetEventSlim Reached { get; } = new(false);

    public long BlockCount => inner.BlockCount;

    public void Open() => _gate.Set();

    public void Read(long pbn, Span<byte> destination) => inner.Read(pbn, destination);

    public void Read(long pbn, IReadOnlyList<Memory<byte>> destinations) => inner.Read(pbn, destinations);

    public void Write(long pbn, ReadOnlySpan<byte> source)
    {
        if (fail is not null && source.Length == VdoConstants.BlockSize && fail(source.ToArray()) && Interlocked.Exchange(ref _failArmed, 0) == 1)
            throw new IOException($"injected write error at PBN {pbn}");
        if (source.Length == VdoConstants.BlockSize && Volatile.Read(ref _armed) == 1 && match(source.ToArray()) && Interlocked.Exchange(ref _armed, 0) == 1)
        {
            Reached.Set();
            _gate.Wait();
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
        _gate.Dispose();
        Reached.Dispose();
    }
}
