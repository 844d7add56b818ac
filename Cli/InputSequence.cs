namespace DataflowVdo.Cli;

/// <summary>
/// The input of <c>dvdo ingest</c>: the named files one after the other, or standard input
/// (no files, or <c>-</c>), as one read-only stream. Every file is opened up front, so a missing
/// or unreadable one fails before anything is written.
/// </summary>
internal sealed class InputSequence : Stream
{
    private readonly List<Stream> _streams;
    private int _current;

    private InputSequence(List<Stream> streams, long? length)
    {
        _streams = streams;
        KnownLength = length;
    }

    /// <summary>Total length when every input is a regular file, else null (a pipe, a device).</summary>
    public long? KnownLength { get; }

    /// <summary>Opens <paramref name="paths"/> in order (<c>-</c> or none: standard input).</summary>
    public static InputSequence Open(IReadOnlyList<string> paths)
    {
        if (paths.Count == 0)
            paths = ["-"];
        var streams = new List<Stream>();
        long? total = 0;
        try
        {
            foreach (var path in paths)
            {
                if (path == "-")
                {
                    streams.Add(Console.OpenStandardInput(1 << 20));
                    total = null;
                    continue;
                }
                if (Directory.Exists(path))
                    throw new IOException($"{path} is a directory: pipe it through tar (tar -cf - {path} | dvdo ingest ...)");
                var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
                streams.Add(file);
                // A regular file has a length; a device or pipe reports none (or 0): unknown, the ingest reserves the largest free extent.
                total = file.CanSeek && file.Length > 0 && total is { } t ? t + file.Length : null;
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            foreach (var s in streams)
                s.Dispose();
            throw new IOException($"cannot read the input: {e.Message}", e);
        }
        catch
        {
            foreach (var s in streams)
                s.Dispose();
            throw;
        }
        return new InputSequence(streams, total);
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count)
    {
        while (_current < _streams.Count)
        {
            var n = _streams[_current].Read(buffer, offset, count);
            if (n > 0)
                return n;
            _current++;
        }
        return 0;
    }

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => false;

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var s in _streams)
                s.Dispose();
        }
        base.Dispose(disposing);
    }
}
