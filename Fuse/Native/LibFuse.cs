using System.Runtime.InteropServices;

namespace DataflowVdo.Fuse.Native;

/// <summary>
/// P/Invoke declarations for the libfuse3 low-level API. Entry points are the ones this libfuse
/// (Debian 12: 3.14) exports: <c>fuse_session_new</c> is unversioned there (3.17 renamed it), and the
/// multi-threaded loop is bound by its explicit <c>fuse_session_loop_mt_312</c> alias so that the
/// opaque <c>fuse_loop_config</c> (created by <c>fuse_loop_cfg_create</c>) is what it receives.
/// </summary>
internal static unsafe partial class LibFuse
{
    public const string Library = "libfuse3.so.3";

    [LibraryImport(Library, EntryPoint = "fuse_version")]
    public static partial int Version();

    [LibraryImport(Library, EntryPoint = "fuse_opt_add_arg", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int OptAddArg(FuseArgs* args, string argument);

    [LibraryImport(Library, EntryPoint = "fuse_opt_free_args")]
    public static partial void OptFreeArgs(FuseArgs* args);

    [LibraryImport(Library, EntryPoint = "fuse_session_new")]
    public static partial nint SessionNew(FuseArgs* args, FuseLowLevelOps* operations, nuint operationsSize, void* userData);

    [LibraryImport(Library, EntryPoint = "fuse_session_mount", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SessionMount(nint session, string mountPoint);

    [LibraryImport(Library, EntryPoint = "fuse_session_loop_mt_312")]
    public static partial int SessionLoopMultiThreaded(nint session, nint loopConfig);

    [LibraryImport(Library, EntryPoint = "fuse_session_exit")]
    public static partial void SessionExit(nint session);

    [LibraryImport(Library, EntryPoint = "fuse_session_exited")]
    public static partial int SessionExited(nint session);

    [LibraryImport(Library, EntryPoint = "fuse_session_fd")]
    public static partial int SessionFd(nint session);

    [LibraryImport(Library, EntryPoint = "fuse_session_unmount")]
    public static partial void SessionUnmount(nint session);

    [LibraryImport(Library, EntryPoint = "fuse_session_destroy")]
    public static partial void SessionDestroy(nint session);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_create")]
    public static partial nint LoopConfigCreate();

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_destroy")]
    public static partial void LoopConfigDestroy(nint loopConfig);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_set_max_threads")]
    public static partial void LoopConfigSetMaxThreads(nint loopConfig, uint value);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_set_idle_threads")]
    public static partial void LoopConfigSetIdleThreads(nint loopConfig, uint value);

    [LibraryImport(Library, EntryPoint = "fuse_req_userdata")]
    public static partial void* RequestUserData(nint request);

    [LibraryImport(Library, EntryPoint = "fuse_reply_err")]
    public static partial int ReplyError(nint request, int error);

    [LibraryImport(Library, EntryPoint = "fuse_reply_entry")]
    public static partial int ReplyEntry(nint request, FuseEntryParam* entry);

    [LibraryImport(Library, EntryPoint = "fuse_reply_attr")]
    public static partial int ReplyAttr(nint request, Stat* attributes, double attributeTimeout);

    [LibraryImport(Library, EntryPoint = "fuse_reply_open")]
    public static partial int ReplyOpen(nint request, FuseFileInfo* fileInfo);

    [LibraryImport(Library, EntryPoint = "fuse_reply_write")]
    public static partial int ReplyWrite(nint request, nuint count);

    [LibraryImport(Library, EntryPoint = "fuse_reply_buf")]
    public static partial int ReplyBuffer(nint request, byte* buffer, nuint size);

    [LibraryImport(Library, EntryPoint = "fuse_reply_statfs")]
    public static partial int ReplyStatFs(nint request, StatVfs* statistics);

    [LibraryImport(Library, EntryPoint = "fuse_add_direntry")]
    public static partial nuint AddDirectoryEntry(nint request, byte* buffer, nuint bufferSize, byte* name, Stat* attributes, long nextOffset);
}
