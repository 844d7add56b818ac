using System.Runtime.InteropServices;

namespace DataflowVdo.Fuse.Native;

/// <summary>glibc <c>struct statvfs</c> on x86_64 (112 bytes), the argument of <c>fuse_reply_statfs</c>.</summary>
[StructLayout(LayoutKind.Explicit, Size = NativeLayout.StatVfsSize)]
internal struct StatVfs
{
    [FieldOffset(0)] public ulong BlockSize;
    [FieldOffset(8)] public ulong FragmentSize;
    [FieldOffset(16)] public ulong Blocks;
    [FieldOffset(24)] public ulong FreeBlocks;
    [FieldOffset(32)] public ulong AvailableBlocks;
    [FieldOffset(40)] public ulong Files;
    [FieldOffset(48)] public ulong FreeFiles;
    [FieldOffset(56)] public ulong AvailableFiles;
    [FieldOffset(64)] public ulong FileSystemId;
    [FieldOffset(72)] public ulong Flags;
    [FieldOffset(80)] public ulong MaxNameLength;
    // 88..111: __f_spare[6].
}
