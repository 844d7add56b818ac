using System.Runtime.InteropServices;

namespace DataflowVdo.Fuse.Native;

/// <summary>
/// libfuse <c>struct fuse_args</c> (24 bytes). Always filled through <c>fuse_opt_add_arg</c>
/// so libfuse owns (and <c>fuse_opt_free_args</c> frees) the argv strings.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = NativeLayout.FuseArgsSize)]
internal unsafe struct FuseArgs
{
    [FieldOffset(0)] public int Count;
    [FieldOffset(8)] public byte** Values;
    [FieldOffset(16)] public int Allocated;
}
