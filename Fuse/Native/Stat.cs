using System.Runtime.InteropServices;

namespace DataflowVdo.Fuse.Native;

/// <summary>
/// glibc <c>struct stat</c> on x86_64 (144 bytes). Offsets come from a C probe compiled against
/// this machine's headers (docs/fuse.md); aarch64 uses a different 128-byte layout, which is why
/// <see cref="NativeLayout.Verify"/> refuses other architectures instead of guessing.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = NativeLayout.StatSize)]
internal struct Stat
{
    [FieldOffset(0)] public ulong Device;
    [FieldOffset(8)] public ulong Inode;
    [FieldOffset(16)] public ulong LinkCount;
    [FieldOffset(24)] public uint Mode;
    [FieldOffset(28)] public uint Uid;
    [FieldOffset(32)] public uint Gid;
    // 36..39: padding before st_rdev.
    [FieldOffset(40)] public ulong RawDevice;
    [FieldOffset(48)] public long Size;
    [FieldOffset(56)] public long BlockSize;
    [FieldOffset(64)] public long Blocks;
    [FieldOffset(72)] public Timespec AccessTime;
    [FieldOffset(88)] public Timespec ModificationTime;
    [FieldOffset(104)] public Timespec ChangeTime;
    // 120..143: glibc's __glibc_reserved[3].
}
