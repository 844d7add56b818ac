namespace DataflowVdo.Fuse;

/// <summary>
/// Thrown by an <see cref="IImageFile"/> when the backing store is full; the file system replies
/// ENOSPC so the writer sees "No space left on device" rather than a generic I/O error.
/// </summary>
public sealed class NoSpaceException : IOException
{
    private const int Enospc = 28;

    public NoSpaceException()
        : this("No space left in the backing store.")
    {
    }

    public NoSpaceException(string message)
        : base(message, Enospc)
    {
    }

    public NoSpaceException(string message, Exception innerException)
        : base(message, innerException)
    {
        HResult = Enospc;
    }
}
