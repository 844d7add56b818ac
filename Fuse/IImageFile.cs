namespace DataflowVdo.Fuse;

/// <summary>
/// One fixed-size file in the mount's root directory, backed by whatever the host provides (a
/// volume, or a byte array in tests). Calls arrive concurrently from libfuse's worker threads, so
/// implementations must be thread-safe. Every offset/length the file system passes is already
/// clamped to <c>[0, Size)</c>; exceptions are turned into errno replies (see docs/fuse.md), with
/// <see cref="NoSpaceException"/> becoming ENOSPC.
/// </summary>
public interface IImageFile
{
    /// <summary>File name in the mount's root; must be a valid single path component (no '/', at most 255 UTF-8 bytes).</summary>
    string Name { get; }

    /// <summary>Fixed length in bytes; truncate/extend requests are refused with EPERM.</summary>
    long Size { get; }

    /// <summary>When true, opening for writing fails with EROFS and the file is shown as mode 0444.</summary>
    bool ReadOnly { get; }

    /// <summary>Reads up to <c>destination.Length</c> bytes at <paramref name="offset"/>; returns the count (short only at end of file).</summary>
    int Read(long offset, Span<byte> destination);

    /// <summary>Writes all of <paramref name="source"/> at <paramref name="offset"/> (any alignment, inside <see cref="Size"/>).</summary>
    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>fsync: makes everything written before the call durable.</summary>
    void Flush();

    /// <summary>fallocate(PUNCH_HOLE | KEEP_SIZE): the range reads back as zeroes and its space may be released.</summary>
    void Discard(long offset, long length);

    /// <summary>fallocate(ZERO_RANGE): the range reads back as zeroes.</summary>
    void WriteZeroes(long offset, long length);
}
