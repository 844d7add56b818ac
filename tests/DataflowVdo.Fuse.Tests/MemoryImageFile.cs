
namespace DataflowVdo.Fuse.Tests;

/// <summary>
/// Byte-array-backed <see cref="IImageFile"/> for tests, with counters for what the file system
/// called and optional fault injection. Non-overlapping concurrent I/O is safe (plain span copies).
/// </summary>
public sealed class MemoryImageFile : IImageFile
{
    private readonly byte[] _data;
    private int _flushCount;
    private int _discardCount;
    private int _writeZeroesCount;
    private int _largestWrite;
    private int _largestRead;

    public MemoryImageFile(string name, int size, bool readOnly = false)
    {
        Name = name;
        _data = new byte[size];
        ReadOnly = readOnly;
    }

    public string Name { get; }

    public long Size => _data.Length;

    public bool ReadOnly { get; }

    /// <summary>The backing bytes, for comparing what arrived through the mount.</summary>
    public byte[] Data => _data;

    public int FlushCount => Volatile.Read(ref _flushCount);

    public int DiscardCount => Volatile.Read(ref _discardCount);

    public int WriteZeroesCount => Volatile.Read(ref _writeZeroesCount);

    /// <summary>Largest single Write call seen: shows the negotiated max_write.</summary>
    public int LargestWrite => Volatile.Read(ref _largestWrite);

    public int LargestRead => Volatile.Read(ref _largestRead);

    /// <summary>When set, Read/Write/Flush throw this (to test errno mapping).</summary>
    public Func<Exception>? Fault { get; set; }

    public int Read(long offset, Span<byte> destination)
    {
        ThrowFault();
        RecordMax(ref _largestRead, destination.Length);
        int count = (int)Math.Max(0, Math.Min(destination.Length, _data.Length - offset));
        _data.AsSpan((int)offset, count).CopyTo(destination);
        return count;
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        ThrowFault();
        RecordMax(ref _largestWrite, source.Length);
        if (offset < 0 || offset + source.Length > _data.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"Write {offset}+{source.Length} outside {_data.Length}.");
        }

        source.CopyTo(_data.AsSpan((int)offset));
    }

    public void Flush()
    {
        ThrowFault();
        Interlocked.Increment(ref _flushCount);
    }

    public void Discard(long offset, long length)
    {
        Interlocked.Increment(ref _discardCount);
        _data.AsSpan((int)offset, (int)length).Clear();
    }

    public void WriteZeroes(long offset, long length)
    {
        Interlocked.Increment(ref _writeZeroesCount);
        _data.AsSpan((int)offset, (int)length).Clear();
    }

    private static void RecordMax(ref int field, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref field)) && Interlocked.CompareExchange(ref field, value, current) != current)
        {
        }
    }

    private void ThrowFault()
    {
        if (Fault is { } fault)
        {
            throw fault();
        }
    }
}
