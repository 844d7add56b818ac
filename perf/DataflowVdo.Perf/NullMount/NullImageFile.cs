using DataflowVdo.Fuse;

namespace DataflowVdo.Perf.NullMount;

/// <summary>
/// An image file that stores nothing: writes are dropped, reads return zeroes. Served through the
/// same FUSE binding as a pool's images, it measures what the FUSE layer alone costs (kernel,
/// libfuse, our callbacks) on this machine, in the same run as the real targets.
/// </summary>
internal sealed class NullImageFile(string name, long size) : IImageFile
{
    public string Name { get; } = name;

    public long Size { get; } = size;

    public bool ReadOnly => false;

    public int Read(long offset, Span<byte> destination)
    {
        destination.Clear();
        return destination.Length;
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
    }

    public void Flush()
    {
    }

    public void Discard(long offset, long length)
    {
    }

    public void WriteZeroes(long offset, long length)
    {
    }
}
