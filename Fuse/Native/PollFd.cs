using System.Runtime.InteropServices;

namespace DataflowVdo.Fuse.Native;

/// <summary>
/// <c>struct pollfd</c> (8 bytes), used to ask whether the <c>/dev/fuse</c> descriptor reports
/// POLLERR, i.e. whether the kernel has already torn the connection down.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct PollFd
{
    public const short PollErr = 0x008;

    [FieldOffset(0)] public int FileDescriptor;
    [FieldOffset(4)] public short Events;
    [FieldOffset(6)] public short ReturnedEvents;
}
