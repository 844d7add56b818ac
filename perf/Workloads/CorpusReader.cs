namespace DataflowVdo.Workloads;

/// <summary>
/// One forward pass over a corpus's files: yields each file's 4 KiB slices in order, the last
/// zero-padded, skipping all-zero slices and files that cannot be opened or read. Holds at
/// most one open file. Not thread-safe.
/// </summary>
internal sealed class CorpusReader : IDisposable
{
    // Large enough that the kernel's readahead, not syscalls, sets the pace of a pass.
    private const int StreamBufferSize = 1 << 16;

    private readonly IReadOnlyList<string> _files;
    private int _nextFile;
    private FileStream? _current;

    public CorpusReader(IReadOnlyList<string> files) => _files = files;

    /// <summary>Fills <paramref name="block"/> with the next non-zero slice; false at the end of the pass.</summary>
    public bool TryRead(Span<byte> block)
    {
        while (true)
        {
            if (_current is null && !OpenNext())
            {
                return false;
            }

            int read;
            try
            {
                read = _current!.ReadAtLeast(block, block.Length, throwOnEndOfStream: false);
            }
            catch (IOException)
            {
                read = 0; // a file that fails mid-way is skipped from that point, like an unreadable one
            }

            if (read == 0)
            {
                CloseCurrent();
                continue;
            }

            if (read < block.Length)
            {
                block[read..].Clear();
                CloseCurrent(); // a short read is the file's last slice
            }

            if (!BlockBytes.IsZero(block))
            {
                return true;
            }
        }
    }

    public void Dispose() => CloseCurrent();

    private bool OpenNext()
    {
        while (_nextFile < _files.Count)
        {
            string path = _files[_nextFile++];
            try
            {
                _current = new FileStream(
                    path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, StreamBufferSize, FileOptions.SequentialScan);
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Unreadable files are skipped, as docs/workloads.md's corpus definition allows.
            }
        }

        return false;
    }

    private void CloseCurrent()
    {
        _current?.Dispose();
        _current = null;
    }
}
