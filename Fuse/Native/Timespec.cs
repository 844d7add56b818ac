using System.Runtime.InteropServices;

namespace DataflowVdo.Fuse.Native;

/// <summary>glibc <c>struct timespec</c> on x86_64 (16 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = NativeLayout.TimespecSize)]
internal struct Timespec
{
    [FieldOffset(0)] public long Seconds;
    [FieldOffset(8)] public long Nanoseconds;

    public static Timespec FromDateTimeOffset(DateTimeOffset value)
    {
        long ticks = value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        return new Timespec
        {
            Seconds = ticks / TimeSpan.TicksPerSecond,
            Nanoseconds = ticks % TimeSpan.TicksPerSecond * 100,
        };
    }
}
