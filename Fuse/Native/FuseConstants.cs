namespace DataflowVdo.Fuse.Native;

/// <summary>Flag values from fuse_common.h, fuse_lowlevel.h, fcntl.h, sys/stat.h and linux/falloc.h (checked with the C probe).</summary>
internal static class FuseConstants
{
    /// <summary>Inode number libfuse reserves for the mount's root directory (FUSE_ROOT_ID).</summary>
    public const ulong RootInode = 1;

    // fuse_conn_info.capable / want bits.
    public const uint CapAsyncRead = 1u << 0;
    public const uint CapAtomicOTrunc = 1u << 3;
    public const uint CapSpliceWrite = 1u << 7;
    public const uint CapSpliceMove = 1u << 8;
    public const uint CapSpliceRead = 1u << 9;
    public const uint CapAsyncDio = 1u << 15;
    public const uint CapWritebackCache = 1u << 16;

    // setattr to_set bits (FUSE_SET_ATTR_*).
    public const int SetAttrMode = 1 << 0;
    public const int SetAttrUid = 1 << 1;
    public const int SetAttrGid = 1 << 2;
    public const int SetAttrSize = 1 << 3;
    public const int SetAttrAtime = 1 << 4;
    public const int SetAttrMtime = 1 << 5;
    public const int SetAttrAtimeNow = 1 << 7;
    public const int SetAttrMtimeNow = 1 << 8;
    public const int SetAttrCtime = 1 << 10;

    // fallocate(2) modes.
    public const int FallocKeepSize = 0x01;
    public const int FallocPunchHole = 0x02;
    public const int FallocZeroRange = 0x10;

    // open(2) flags.
    public const int OAccessMode = 3;
    public const int OReadOnly = 0;
    public const int OTrunc = 0x200;

    // st_mode file types and the permission mask.
    public const uint SIfDir = 0x4000;
    public const uint SIfReg = 0x8000;
    public const uint SIfMt = 0xF000;
    public const uint PermissionMask = 0xFFF;

    /// <summary>umount2 flag: detach now, finish when the last reference goes away.</summary>
    public const int MntDetach = 2;
}
