using System.Buffers;

namespace DataflowVdo.Pipeline;

/// <summary>
/// A caller's write buffer, pinned for the duration of the write (a <c>fixed</c> scope in
/// <see cref="Volume"/>), seen as <see cref="Memory{T}"/>: the device's vectored writes take
/// memory, and the blocks an inline caller stores whole are written from its own buffer instead
/// of being copied into their requests under the volume's lock first. One per thread, reused, so
/// a write allocates nothing; valid only while its owner's <c>fixed</c> scope lasts.
/// </summary>
internal sealed unsafe class PinnedRequestMemory : MemoryManager<byte>
{
    [ThreadStatic]
    private static PinnedRequestMemory? t_current;

    private byte* _pointer;
    private int _length;

    /// <summary>The calling thread's instance, now over <paramref name="length"/> bytes at <paramref name="pointer"/> (which the caller keeps pinned).</summary>
    public static PinnedRequestMemory Over(byte* pointer, int length)
    {
        var memory = t_current ??= new PinnedRequestMemory();
        memory._pointer = pointer;
        memory._length = length;
        return memory;
    }

    /// <summary>Forgets the buffer (its <c>fixed</c> scope ends).</summary>
    public void Release()
    {
        _pointer = null;
        _length = 0;
    }

    /// <inheritdoc/>
    public override Span<byte> GetSpan() => new(_pointer, _length);

    /// <inheritdoc/>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        if ((uint)elementIndex > (uint)_length)
            throw new ArgumentOutOfRangeException(nameof(elementIndex));
        return new MemoryHandle(_pointer + elementIndex); // already pinned by the owner's fixed scope
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
    }
}
