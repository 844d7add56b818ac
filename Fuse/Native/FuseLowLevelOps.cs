using System.Runtime.InteropServices;

namespace DataflowVdo.Fuse.Native;

/// <summary>
/// libfuse 3.14 <c>struct fuse_lowlevel_ops</c> (44 function pointers, 352 bytes). Only the slots
/// this file system implements are declared; the others stay NULL, which libfuse answers itself
/// (ENOSYS, or a default reply for opendir/releasedir/forget). libfuse copies the table in
/// <c>fuse_session_new</c>, so it does not have to outlive that call, and the callbacks are static
/// <c>[UnmanagedCallersOnly]</c> methods, so there are no delegates to keep alive.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = NativeLayout.FuseLowLevelOpsSize)]
internal unsafe struct FuseLowLevelOps
{
    [FieldOffset(0)] public delegate* unmanaged[Cdecl]<void*, FuseConnInfo*, void> Init;
    [FieldOffset(16)] public delegate* unmanaged[Cdecl]<nint, ulong, byte*, void> Lookup;
    [FieldOffset(32)] public delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void> GetAttr;
    [FieldOffset(40)] public delegate* unmanaged[Cdecl]<nint, ulong, Stat*, int, FuseFileInfo*, void> SetAttr;
    [FieldOffset(56)] public delegate* unmanaged[Cdecl]<nint, ulong, byte*, uint, ulong, void> MkNod;
    [FieldOffset(64)] public delegate* unmanaged[Cdecl]<nint, ulong, byte*, uint, void> MkDir;
    [FieldOffset(72)] public delegate* unmanaged[Cdecl]<nint, ulong, byte*, void> Unlink;
    [FieldOffset(80)] public delegate* unmanaged[Cdecl]<nint, ulong, byte*, void> RmDir;
    [FieldOffset(88)] public delegate* unmanaged[Cdecl]<nint, byte*, ulong, byte*, void> Symlink;
    [FieldOffset(96)] public delegate* unmanaged[Cdecl]<nint, ulong, byte*, ulong, byte*, uint, void> Rename;
    [FieldOffset(104)] public delegate* unmanaged[Cdecl]<nint, ulong, ulong, byte*, void> Link;
    [FieldOffset(112)] public delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void> Open;
    [FieldOffset(120)] public delegate* unmanaged[Cdecl]<nint, ulong, nuint, long, FuseFileInfo*, void> Read;
    [FieldOffset(128)] public delegate* unmanaged[Cdecl]<nint, ulong, byte*, nuint, long, FuseFileInfo*, void> Write;
    [FieldOffset(136)] public delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void> Flush;
    [FieldOffset(144)] public delegate* unmanaged[Cdecl]<nint, ulong, FuseFileInfo*, void> Release;
    [FieldOffset(152)] public delegate* unmanaged[Cdecl]<nint, ulong, int, FuseFileInfo*, void> Fsync;
    [FieldOffset(168)] public delegate* unmanaged[Cdecl]<nint, ulong, nuint, long, FuseFileInfo*, void> ReadDir;
    [FieldOffset(192)] public delegate* unmanaged[Cdecl]<nint, ulong, void> StatFs;
    [FieldOffset(240)] public delegate* unmanaged[Cdecl]<nint, ulong, byte*, uint, FuseFileInfo*, void> Create;
    [FieldOffset(320)] public delegate* unmanaged[Cdecl]<nint, ulong, int, long, long, FuseFileInfo*, void> Fallocate;
}
