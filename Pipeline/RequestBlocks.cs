using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// An inline caller's write request as the scheduler sees it: the first LBN and the data of its
/// consecutive blocks, in the caller's buffer (kept pinned while the request runs). A block the
/// caller stores whole is not copied into its request: its data is read from here, by the
/// caller's own data write and by a later duplicate in the same request.
/// </summary>
internal readonly ref struct RequestBlocks(long lbn, ReadOnlyMemory<byte> memory, ReadOnlySpan<byte> blocks)
{
    private readonly ReadOnlySpan<byte> _blocks = blocks;

    /// <summary>The request's first LBN.</summary>
    public long Lbn { get; } = lbn;

    /// <summary>Blocks in the request.</summary>
    public int Count => _blocks.Length / VdoConstants.BlockSize;

    /// <summary>Whether <paramref name="lbn"/> is one of the request's blocks.</summary>
    public bool Holds(long lbn) => lbn >= Lbn && lbn < Lbn + Count;

    /// <summary>Block <paramref name="i"/>'s data.</summary>
    public ReadOnlySpan<byte> Block(int i) => _blocks.Slice(i * VdoConstants.BlockSize, VdoConstants.BlockSize);

    /// <summary>The data the request writes to <paramref name="lbn"/> (which must be one of its blocks), as memory for a vectored write.</summary>
    public ReadOnlyMemory<byte> MemoryOf(long lbn) => memory.Slice(checked((int)(lbn - Lbn)) * VdoConstants.BlockSize, VdoConstants.BlockSize);

    /// <summary>The data the request writes to <paramref name="lbn"/>, which must be one of its blocks.</summary>
    public ReadOnlySpan<byte> DataOf(long lbn) => Block(checked((int)(lbn - Lbn)));
}
