namespace DataflowVdo.Storage;

/// <summary>
/// A backing store addressed in 4 KiB blocks. Writes may sit in a volatile cache until
/// <see cref="Flush"/> returns; after that they survive a crash. Implementations are safe for
/// concurrent calls on distinct blocks.
/// </summary>
public interface IBlockDevice : IDisposable
{
    /// <summary>Size of the device in 4 KiB blocks.</summary>
    long BlockCount { get; }

    /// <summary>Reads <c>destination.Length / 4096</c> consecutive blocks starting at <paramref name="pbn"/>.</summary>
    void Read(long pbn, Span<byte> destination);

    /// <summary>Reads consecutive blocks starting at <paramref name="pbn"/> into several buffers (vectored I/O).</summary>
    void Read(long pbn, IReadOnlyList<Memory<byte>> destinations);

    /// <summary>Writes <c>source.Length / 4096</c> consecutive blocks starting at <paramref name="pbn"/>.</summary>
    void Write(long pbn, ReadOnlySpan<byte> source);

    /// <summary>Writes several buffers as consecutive blocks starting at <paramref name="pbn"/> (vectored I/O).</summary>
    void Write(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources);

    /// <summary>
    /// Writes consecutive blocks like <see cref="Write(long, IReadOnlyList{ReadOnlyMemory{byte}})"/>,
    /// hinting that they belong to a large request whose caller will write them itself: a device
    /// with a write cache of its own may go around it (the blocks are no less volatile until
    /// <see cref="Flush"/>). Devices without one just write.
    /// </summary>
    void WriteAround(long pbn, IReadOnlyList<ReadOnlyMemory<byte>> sources) => Write(pbn, sources);

    /// <summary>Makes every completed write durable (fdatasync for a file).</summary>
    void Flush();
}
