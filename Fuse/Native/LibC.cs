using System.Runtime.InteropServices;

namespace DataflowVdo.Fuse.Native;

/// <summary>
/// The few glibc calls the mount needs. Bound to "libc.so.6" by soname because "libc.so" on Debian
/// is a linker script that dlopen cannot load.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc.so.6";

    [LibraryImport(Library, EntryPoint = "getuid")]
    public static partial uint GetUid();

    [LibraryImport(Library, EntryPoint = "getgid")]
    public static partial uint GetGid();

    [LibraryImport(Library, EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUid();

    [LibraryImport(Library, EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Umount2(string target, int flags);

    // glibc exports stat as a real symbol since 2.33 (Debian 12 ships 2.36).
    [LibraryImport(Library, EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Stat(string path, Stat* buffer);

    [LibraryImport(Library, EntryPoint = "statvfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int StatVfs(string path, StatVfs* buffer);

    [LibraryImport(Library, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* descriptors, ulong count, int timeoutMilliseconds);
}
