using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using DataflowVdo.Fuse.Native;

namespace DataflowVdo.Fuse;

/// <summary>Names and attributes: lookup, getattr, setattr, readdir, statfs and the refused namespace changes.</summary>
internal sealed unsafe partial class ImageFileSystem
{
    public int LookUp(ulong parent, string name, out Stat attributes)
    {
        attributes = default;
        if (parent != FuseConstants.RootInode)
        {
            return -Errno.ENOTDIR;
        }

        if (Encoding.UTF8.GetByteCount(name) > MaxNameBytes)
        {
            return -Errno.ENAMETOOLONG;
        }

        try
        {
            if (!TryFindImage(name, out ulong inode, out var image))
            {
                return -Errno.ENOENT;
            }

            attributes = FileAttributes(inode, image);
            return 0;
        }
        catch (Exception ex)
        {
            return Fail($"lookup '{name}'", ex);
        }
    }

    public int GetAttributes(ulong inode, out Stat attributes)
    {
        attributes = default;
        if (inode == FuseConstants.RootInode)
        {
            attributes = RootAttributes();
            return 0;
        }

        int result = ResolveFile(inode, out var image);
        if (result < 0)
        {
            return result;
        }

        try
        {
            attributes = FileAttributes(inode, image);
            return 0;
        }
        catch (Exception ex)
        {
            return Fail($"getattr '{image.Name}'", ex);
        }
    }

    /// <summary>
    /// Images have a fixed size and modes derived from <see cref="IImageFile.ReadOnly"/>, so any
    /// real change of size, mode, owner or group is refused with EPERM ("Operation not permitted");
    /// setting them to their current value succeeds. Time updates (touch, cp -p, tar) are accepted
    /// and ignored so those tools keep working; the reported times stay the mount time.
    /// </summary>
    public int SetAttributes(ulong inode, in Stat requested, int toSet, out Stat attributes)
    {
        int result = GetAttributes(inode, out attributes);
        if (result < 0)
        {
            return result;
        }

        if ((toSet & FuseConstants.SetAttrSize) != 0 && requested.Size != attributes.Size)
        {
            return -Errno.EPERM;
        }

        if ((toSet & FuseConstants.SetAttrMode) != 0
            && (requested.Mode & FuseConstants.PermissionMask) != (attributes.Mode & FuseConstants.PermissionMask))
        {
            return -Errno.EPERM;
        }

        if (((toSet & FuseConstants.SetAttrUid) != 0 && requested.Uid != attributes.Uid)
            || ((toSet & FuseConstants.SetAttrGid) != 0 && requested.Gid != attributes.Gid))
        {
            return -Errno.EPERM;
        }

        return 0;
    }

    /// <summary>Fills <paramref name="entries"/> with ".", ".." and the servable images, in catalog order.</summary>
    public int ListDirectory(ulong inode, List<DirectoryEntry> entries)
    {
        if (inode != FuseConstants.RootInode)
        {
            return _fileByInode.ContainsKey(inode) ? -Errno.ENOTDIR : -Errno.ENOENT;
        }

        entries.Add(new DirectoryEntry(".", FuseConstants.RootInode, IsDirectory: true));
        entries.Add(new DirectoryEntry("..", FuseConstants.RootInode, IsDirectory: true));
        try
        {
            foreach (var image in _catalog.Images)
            {
                if (IsServableName(image.Name))
                {
                    entries.Add(new DirectoryEntry(image.Name, InodeFor(image), IsDirectory: false));
                }
            }

            return 0;
        }
        catch (Exception ex)
        {
            return Fail("readdir", ex);
        }
    }

    public int GetStatistics(out StatVfs statistics)
    {
        statistics = default;
        try
        {
            long total = Math.Max(0, _catalog.TotalBytes);
            long free = Math.Clamp(_catalog.FreeBytes, 0, total);
            int imageCount = _catalog.Images.Count;
            statistics = new StatVfs
            {
                BlockSize = BlockSize,
                FragmentSize = BlockSize,
                Blocks = (ulong)(total / BlockSize),
                FreeBlocks = (ulong)(free / BlockSize),
                AvailableBlocks = (ulong)(free / BlockSize),
                Files = (ulong)imageCount + 1,
                FreeFiles = 0,
                AvailableFiles = 0,
                MaxNameLength = MaxNameBytes,
            };
            return 0;
        }
        catch (Exception ex)
        {
            return Fail("statfs", ex);
        }
    }

    /// <summary>
    /// Packs entries from <paramref name="offset"/> on into the reply buffer with fuse_add_direntry.
    /// The offset handed back for each entry is its index + 1, i.e. where the next readdir resumes.
    /// </summary>
    private static int FillDirectoryBuffer(nint request, Span<byte> buffer, List<DirectoryEntry> entries, long offset)
    {
        int used = 0;
        Span<byte> name = stackalloc byte[MaxNameBytes + 1];
        fixed (byte* start = buffer)
        {
            for (long index = Math.Max(0, offset); index < entries.Count; index++)
            {
                var entry = entries[(int)index];
                int length = Encoding.UTF8.GetBytes(entry.Name, name);
                name[length] = 0;
                var attributes = new Stat
                {
                    Inode = entry.Inode,
                    Mode = entry.IsDirectory ? FuseConstants.SIfDir : FuseConstants.SIfReg,
                };
                nuint remaining = (nuint)(buffer.Length - used);
                nuint size;
                fixed (byte* namePointer = name)
                {
                    size = LibFuse.AddDirectoryEntry(request, start + used, remaining, namePointer, &attributes, index + 1);
                }

                if (size > remaining)
                {
                    break; // Did not fit; the kernel asks again from this offset.
                }

                used += (int)size;
            }
        }

        return used;
    }

    private static string DecodeName(byte* name) => Marshal.PtrToStringUTF8((nint)name) ?? string.Empty;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLookup(nint request, ulong parent, byte* name)
    {
        int result;
        var entry = default(FuseEntryParam);
        try
        {
            var fileSystem = FromRequest(request);
            result = fileSystem.LookUp(parent, DecodeName(name), out entry.Attributes);
            entry.Inode = entry.Attributes.Inode;
            entry.AttributeTimeout = fileSystem.AttributeTimeoutSeconds;
            entry.EntryTimeout = fileSystem.AttributeTimeoutSeconds;
        }
        catch (Exception ex)
        {
            result = Unexpected(request, "lookup", ex);
        }

        if (result < 0)
        {
            LibFuse.ReplyError(request, -result);
        }
        else
        {
            LibFuse.ReplyEntry(request, &entry);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnGetAttr(nint request, ulong inode, FuseFileInfo* fileInfo)
    {
        int result;
        Stat attributes = default;
        double timeout = 0;
        try
        {
            var fileSystem = FromRequest(request);
            result = fileSystem.GetAttributes(inode, out attributes);
            timeout = fileSystem.AttributeTimeoutSeconds;
        }
        catch (Exception ex)
        {
            result = Unexpected(request, "getattr", ex);
        }

        ReplyAttributes(request, result, &attributes, timeout);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnSetAttr(nint request, ulong inode, Stat* requested, int toSet, FuseFileInfo* fileInfo)
    {
        int result;
        Stat attributes = default;
        double timeout = 0;
        try
        {
            var fileSystem = FromRequest(request);
            result = fileSystem.SetAttributes(inode, in *requested, toSet, out attributes);
            timeout = fileSystem.AttributeTimeoutSeconds;
        }
        catch (Exception ex)
        {
            result = Unexpected(request, "setattr", ex);
        }

        ReplyAttributes(request, result, &attributes, timeout);
    }

    private static void ReplyAttributes(nint request, int result, Stat* attributes, double timeout)
    {
        if (result < 0)
        {
            LibFuse.ReplyError(request, -result);
        }
        else
        {
            LibFuse.ReplyAttr(request, attributes, timeout);
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnReadDir(nint request, ulong inode, nuint size, long offset, FuseFileInfo* fileInfo)
    {
        int result;
        byte[]? buffer = null;
        try
        {
            var entries = new List<DirectoryEntry>();
            result = FromRequest(request).ListDirectory(inode, entries);
            if (result == 0)
            {
                int capacity = (int)Math.Min(size, (nuint)(1024 * 1024));
                buffer = ArrayPool<byte>.Shared.Rent(capacity);
                result = FillDirectoryBuffer(request, buffer.AsSpan(0, capacity), entries, offset);
            }
        }
        catch (Exception ex)
        {
            result = Unexpected(request, "readdir", ex);
        }

        ReplyPooledBuffer(request, result, buffer);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnStatFs(nint request, ulong inode)
    {
        int result;
        StatVfs statistics = default;
        try
        {
            result = FromRequest(request).GetStatistics(out statistics);
        }
        catch (Exception ex)
        {
            result = Unexpected(request, "statfs", ex);
        }

        if (result < 0)
        {
            LibFuse.ReplyError(request, -result);
        }
        else
        {
            LibFuse.ReplyStatFs(request, &statistics);
        }
    }

    // The image set comes from the catalog, not from the file system: namespace changes are
    // refused with EPERM rather than libfuse's default ENOSYS ("Function not implemented").
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnMkNod(nint request, ulong parent, byte* name, uint mode, ulong device) => LibFuse.ReplyError(request, Errno.EPERM);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnMkDir(nint request, ulong parent, byte* name, uint mode) => LibFuse.ReplyError(request, Errno.EPERM);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnUnlink(nint request, ulong parent, byte* name) => LibFuse.ReplyError(request, Errno.EPERM);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnRmDir(nint request, ulong parent, byte* name) => LibFuse.ReplyError(request, Errno.EPERM);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnSymlink(nint request, byte* link, ulong parent, byte* name) => LibFuse.ReplyError(request, Errno.EPERM);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnRename(nint request, ulong parent, byte* name, ulong newParent, byte* newName, uint flags) => LibFuse.ReplyError(request, Errno.EPERM);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLink(nint request, ulong inode, ulong newParent, byte* newName) => LibFuse.ReplyError(request, Errno.EPERM);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnCreate(nint request, ulong parent, byte* name, uint mode, FuseFileInfo* fileInfo) => LibFuse.ReplyError(request, Errno.EPERM);
}
