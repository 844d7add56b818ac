using System.Buffers.Binary;

namespace DataflowVdo.Cli;

/// <summary>
/// A byte stream cut into frames over a connection of the live socket: each frame is a 32-bit
/// little-endian length and that many bytes; a frame of length 0 ends the stream. Reading,
/// a connection that closes before the end frame is an error, never a short stream, so an
/// ingest whose client dies is rolled back instead of committed truncated.
/// </summary>
internal sealed class FrameStream(Stream inner, Action? beforeFirstRead = null) : Stream
{
    private const int MaxFrame = 1 << 20;
    private readonly byte[] _header = new byte[4];
    private Action? _beforeFirstRead = beforeFirstRead;
    private int _remaining;
    private bool _ended;

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count)
    {
        _beforeFirstRead?.Invoke();
        _beforeFirstRead = null;
        if (_ended || count == 0)
            return 0;
        if (_remaining == 0)
        {
            ReadExactly(_header);
            _remaining = BinaryPrimitives.ReadInt32LittleEndian(_header);
            if (_remaining < 0 || _remaining > MaxFrame)
                throw new IOException($"bad frame length {_remaining} on the live socket");
            if (_remaining == 0)
            {
                _ended = true;
                return 0;
            }
        }
        var n = inner.Read(buffer, offset, Math.Min(count, _remaining));
        if (n == 0)
            throw new IOException("the other side closed the connection before the end of the stream");
        _remaining -= n;
        return n;
    }

    private new void ReadExactly(Span<byte> target)
    {
        try
        {
            inner.ReadExactly(target);
        }
        catch (EndOfStreamException)
        {
            throw new IOException("the other side closed the connection before the end of the stream");
        }
    }

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count)
    {
        while (count > 0)
        {
            var n = Math.Min(count, MaxFrame);
            BinaryPrimitives.WriteInt32LittleEndian(_header, n);
            inner.Write(_header);
            inner.Write(buffer, offset, n);
            offset += n;
            count -= n;
        }
    }

    /// <summary>Writes the end frame.</summary>
    public void WriteEnd()
    {
        BinaryPrimitives.WriteInt32LittleEndian(_header, 0);
        inner.Write(_header);
        inner.Flush();
    }

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => true;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override void Flush() => inner.Flush();

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();
}
