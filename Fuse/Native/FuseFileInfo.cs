using System.Runtime.InteropServices;

namespace DataflowVdo.Fuse.Native;

/// <summary>
/// libfuse 3.14 <c>struct fuse_file_info</c> (40 bytes). The C bitfields
/// (<c>writepage:1, direct_io:1, keep_cache:1, flush:1, nonseekable:1, flock_release:1,
/// cache_readdir:1, noflush:1, padding:24</c>) share the 32-bit word at offset 4; gcc on x86_64
/// allocates bitfields from the least significant bit, so <c>direct_io</c> is bit 1 (verified with
/// a C probe: setting <c>fi.direct_io = 1</c> yields 0x2 in that word).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = NativeLayout.FuseFileInfoSize)]
internal struct FuseFileInfo
{
    public const uint WritePageBit = 1u << 0;
    public const uint DirectIoBit = 1u << 1;
    public const uint KeepCacheBit = 1u << 2;
    public const uint FlushBit = 1u << 3;
    public const uint NonSeekableBit = 1u << 4;
    public const uint FlockReleaseBit = 1u << 5;
    public const uint CacheReaddirBit = 1u << 6;
    public const uint NoFlushBit = 1u << 7;

    [FieldOffset(0)] public int Flags;
    [FieldOffset(4)] public uint BitFields;
    // 8..15: padding2:32 plus alignment for the uint64_t that follows.
    [FieldOffset(16)] public ulong FileHandle;
    [FieldOffset(24)] public ulong LockOwner;
    [FieldOffset(32)] public uint PollEvents;
}
