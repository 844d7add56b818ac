using System.Runtime.InteropServices;

namespace DataflowVdo.Fuse.Native;

/// <summary>libfuse <c>struct fuse_entry_param</c> (176 bytes), the argument of <c>fuse_reply_entry</c>.</summary>
[StructLayout(LayoutKind.Explicit, Size = NativeLayout.FuseEntryParamSize)]
internal struct FuseEntryParam
{
    [FieldOffset(0)] public ulong Inode;
    [FieldOffset(8)] public ulong Generation;
    [FieldOffset(16)] public Stat Attributes;
    [FieldOffset(160)] public double AttributeTimeout;
    [FieldOffset(168)] public double EntryTimeout;
}
