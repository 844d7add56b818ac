using System.Runtime.InteropServices;

namespace DataflowVdo.Fuse.Native;

/// <summary>
/// libfuse 3.14 <c>struct fuse_conn_info</c> (128 bytes, of which 88 are <c>reserved[22]</c>).
/// The <c>init</c> callback adjusts it in place; that is the only way to set <c>max_write</c>,
/// <c>max_background</c> etc., because libfuse3 no longer accepts them as mount options.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = NativeLayout.FuseConnInfoSize)]
internal struct FuseConnInfo
{
    [FieldOffset(0)] public uint ProtocolMajor;
    [FieldOffset(4)] public uint ProtocolMinor;
    [FieldOffset(8)] public uint MaxWrite;
    [FieldOffset(12)] public uint MaxRead;
    [FieldOffset(16)] public uint MaxReadahead;
    [FieldOffset(20)] public uint Capable;
    [FieldOffset(24)] public uint Want;
    [FieldOffset(28)] public uint MaxBackground;
    [FieldOffset(32)] public uint CongestionThreshold;
    [FieldOffset(36)] public uint TimeGranularity;
}
