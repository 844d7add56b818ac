using System.Runtime.InteropServices;
using System.Text;

namespace DataflowVdo.Fuse.Native;

/// <summary>
/// The native struct layouts this binding was written against, and the start-up check that the
/// running process matches them. A mismatched layout would not fail loudly by itself: libfuse would
/// read garbage sizes or call through a wrong function pointer, so mounting refuses to start instead.
/// </summary>
internal static class NativeLayout
{
    public const int TimespecSize = 16;
    public const int StatSize = 144;
    public const int StatVfsSize = 112;
    public const int FuseFileInfoSize = 40;
    public const int FuseEntryParamSize = 176;
    public const int FuseConnInfoSize = 128;
    public const int FuseArgsSize = 24;
    public const int FuseLowLevelOpsSize = 352;

    /// <summary>Oldest libfuse with <c>fuse_session_loop_mt_312</c> and the <c>fuse_loop_cfg_*</c> API.</summary>
    public const int MinimumFuseVersion = 312;

    /// <summary>
    /// Values printed by the C probe (tests/DataflowVdo.Fuse.Tests/Native/layout_probe.c) compiled
    /// against libfuse 3.14 / glibc 2.36 on x86_64. The test suite recompiles the probe and compares.
    /// </summary>
    public static IReadOnlyDictionary<string, long> Expected { get; } = new Dictionary<string, long>(StringComparer.Ordinal)
    {
        ["sizeof.timespec"] = 16,
        ["sizeof.stat"] = 144,
        ["stat.st_dev"] = 0,
        ["stat.st_ino"] = 8,
        ["stat.st_nlink"] = 16,
        ["stat.st_mode"] = 24,
        ["stat.st_uid"] = 28,
        ["stat.st_gid"] = 32,
        ["stat.st_rdev"] = 40,
        ["stat.st_size"] = 48,
        ["stat.st_blksize"] = 56,
        ["stat.st_blocks"] = 64,
        ["stat.st_atim"] = 72,
        ["stat.st_mtim"] = 88,
        ["stat.st_ctim"] = 104,
        ["sizeof.statvfs"] = 112,
        ["statvfs.f_bsize"] = 0,
        ["statvfs.f_frsize"] = 8,
        ["statvfs.f_blocks"] = 16,
        ["statvfs.f_bfree"] = 24,
        ["statvfs.f_bavail"] = 32,
        ["statvfs.f_files"] = 40,
        ["statvfs.f_ffree"] = 48,
        ["statvfs.f_favail"] = 56,
        ["statvfs.f_fsid"] = 64,
        ["statvfs.f_flag"] = 72,
        ["statvfs.f_namemax"] = 80,
        ["sizeof.fuse_file_info"] = 40,
        ["fuse_file_info.flags"] = 0,
        ["fuse_file_info.bitfields"] = 4,
        ["fuse_file_info.fh"] = 16,
        ["fuse_file_info.lock_owner"] = 24,
        ["fuse_file_info.poll_events"] = 32,
        ["fuse_file_info.direct_io_mask"] = 0x2,
        ["fuse_file_info.keep_cache_mask"] = 0x4,
        ["fuse_file_info.nonseekable_mask"] = 0x10,
        ["fuse_file_info.noflush_mask"] = 0x80,
        ["sizeof.fuse_entry_param"] = 176,
        ["fuse_entry_param.ino"] = 0,
        ["fuse_entry_param.generation"] = 8,
        ["fuse_entry_param.attr"] = 16,
        ["fuse_entry_param.attr_timeout"] = 160,
        ["fuse_entry_param.entry_timeout"] = 168,
        ["sizeof.fuse_conn_info"] = 128,
        ["fuse_conn_info.proto_major"] = 0,
        ["fuse_conn_info.proto_minor"] = 4,
        ["fuse_conn_info.max_write"] = 8,
        ["fuse_conn_info.max_read"] = 12,
        ["fuse_conn_info.max_readahead"] = 16,
        ["fuse_conn_info.capable"] = 20,
        ["fuse_conn_info.want"] = 24,
        ["fuse_conn_info.max_background"] = 28,
        ["fuse_conn_info.congestion_threshold"] = 32,
        ["fuse_conn_info.time_gran"] = 36,
        ["sizeof.fuse_args"] = 24,
        ["fuse_args.argc"] = 0,
        ["fuse_args.argv"] = 8,
        ["fuse_args.allocated"] = 16,
        ["sizeof.fuse_lowlevel_ops"] = 352,
        ["fuse_lowlevel_ops.init"] = 0,
        ["fuse_lowlevel_ops.lookup"] = 16,
        ["fuse_lowlevel_ops.getattr"] = 32,
        ["fuse_lowlevel_ops.setattr"] = 40,
        ["fuse_lowlevel_ops.mknod"] = 56,
        ["fuse_lowlevel_ops.mkdir"] = 64,
        ["fuse_lowlevel_ops.unlink"] = 72,
        ["fuse_lowlevel_ops.rmdir"] = 80,
        ["fuse_lowlevel_ops.symlink"] = 88,
        ["fuse_lowlevel_ops.rename"] = 96,
        ["fuse_lowlevel_ops.link"] = 104,
        ["fuse_lowlevel_ops.open"] = 112,
        ["fuse_lowlevel_ops.read"] = 120,
        ["fuse_lowlevel_ops.write"] = 128,
        ["fuse_lowlevel_ops.flush"] = 136,
        ["fuse_lowlevel_ops.release"] = 144,
        ["fuse_lowlevel_ops.fsync"] = 152,
        ["fuse_lowlevel_ops.readdir"] = 168,
        ["fuse_lowlevel_ops.statfs"] = 192,
        ["fuse_lowlevel_ops.create"] = 240,
        ["fuse_lowlevel_ops.fallocate"] = 320,
        ["const.FUSE_SET_ATTR_MODE"] = FuseConstants.SetAttrMode,
        ["const.FUSE_SET_ATTR_UID"] = FuseConstants.SetAttrUid,
        ["const.FUSE_SET_ATTR_GID"] = FuseConstants.SetAttrGid,
        ["const.FUSE_SET_ATTR_SIZE"] = FuseConstants.SetAttrSize,
        ["const.FUSE_SET_ATTR_ATIME"] = FuseConstants.SetAttrAtime,
        ["const.FUSE_SET_ATTR_MTIME"] = FuseConstants.SetAttrMtime,
        ["const.FUSE_CAP_ASYNC_READ"] = FuseConstants.CapAsyncRead,
        ["const.FUSE_CAP_ATOMIC_O_TRUNC"] = FuseConstants.CapAtomicOTrunc,
        ["const.FUSE_CAP_ASYNC_DIO"] = FuseConstants.CapAsyncDio,
        ["const.FUSE_CAP_WRITEBACK_CACHE"] = FuseConstants.CapWritebackCache,
        ["const.FALLOC_FL_KEEP_SIZE"] = FuseConstants.FallocKeepSize,
        ["const.FALLOC_FL_PUNCH_HOLE"] = FuseConstants.FallocPunchHole,
        ["const.FALLOC_FL_ZERO_RANGE"] = FuseConstants.FallocZeroRange,
        ["const.O_TRUNC"] = FuseConstants.OTrunc,
        ["const.EROFS"] = Errno.EROFS,
        ["const.ENOSPC"] = Errno.ENOSPC,
        ["const.EOPNOTSUPP"] = Errno.EOPNOTSUPP,
        ["const.EFBIG"] = Errno.EFBIG,
    };

    private static readonly Lazy<string?> StartupProblem = new(FindProblem);

    /// <summary>Throws <see cref="PlatformNotSupportedException"/> naming the first mismatch; cheap after the first call.</summary>
    public static void Verify()
    {
        string? problem = StartupProblem.Value;
        if (problem is not null)
        {
            throw new PlatformNotSupportedException(problem);
        }
    }

    /// <summary>The same keys as <see cref="Expected"/>, measured on the managed declarations.</summary>
    public static unsafe IReadOnlyDictionary<string, long> Measure()
    {
        var measured = new Dictionary<string, long>(StringComparer.Ordinal)
        {
            ["sizeof.timespec"] = sizeof(Timespec),
            ["sizeof.stat"] = sizeof(Stat),
            ["stat.st_dev"] = Offset<Stat>(nameof(Stat.Device)),
            ["stat.st_ino"] = Offset<Stat>(nameof(Stat.Inode)),
            ["stat.st_nlink"] = Offset<Stat>(nameof(Stat.LinkCount)),
            ["stat.st_mode"] = Offset<Stat>(nameof(Stat.Mode)),
            ["stat.st_uid"] = Offset<Stat>(nameof(Stat.Uid)),
            ["stat.st_gid"] = Offset<Stat>(nameof(Stat.Gid)),
            ["stat.st_rdev"] = Offset<Stat>(nameof(Stat.RawDevice)),
            ["stat.st_size"] = Offset<Stat>(nameof(Stat.Size)),
            ["stat.st_blksize"] = Offset<Stat>(nameof(Stat.BlockSize)),
            ["stat.st_blocks"] = Offset<Stat>(nameof(Stat.Blocks)),
            ["stat.st_atim"] = Offset<Stat>(nameof(Stat.AccessTime)),
            ["stat.st_mtim"] = Offset<Stat>(nameof(Stat.ModificationTime)),
            ["stat.st_ctim"] = Offset<Stat>(nameof(Stat.ChangeTime)),
            ["sizeof.statvfs"] = sizeof(StatVfs),
            ["statvfs.f_bsize"] = Offset<StatVfs>(nameof(StatVfs.BlockSize)),
            ["statvfs.f_frsize"] = Offset<StatVfs>(nameof(StatVfs.FragmentSize)),
            ["statvfs.f_blocks"] = Offset<StatVfs>(nameof(StatVfs.Blocks)),
            ["statvfs.f_bfree"] = Offset<StatVfs>(nameof(StatVfs.FreeBlocks)),
            ["statvfs.f_bavail"] = Offset<StatVfs>(nameof(StatVfs.AvailableBlocks)),
            ["statvfs.f_files"] = Offset<StatVfs>(nameof(StatVfs.Files)),
            ["statvfs.f_ffree"] = Offset<StatVfs>(nameof(StatVfs.FreeFiles)),
            ["statvfs.f_favail"] = Offset<StatVfs>(nameof(StatVfs.AvailableFiles)),
            ["statvfs.f_fsid"] = Offset<StatVfs>(nameof(StatVfs.FileSystemId)),
            ["statvfs.f_flag"] = Offset<StatVfs>(nameof(StatVfs.Flags)),
            ["statvfs.f_namemax"] = Offset<StatVfs>(nameof(StatVfs.MaxNameLength)),
            ["sizeof.fuse_file_info"] = sizeof(FuseFileInfo),
            ["fuse_file_info.flags"] = Offset<FuseFileInfo>(nameof(FuseFileInfo.Flags)),
            ["fuse_file_info.bitfields"] = Offset<FuseFileInfo>(nameof(FuseFileInfo.BitFields)),
            ["fuse_file_info.fh"] = Offset<FuseFileInfo>(nameof(FuseFileInfo.FileHandle)),
            ["fuse_file_info.lock_owner"] = Offset<FuseFileInfo>(nameof(FuseFileInfo.LockOwner)),
            ["fuse_file_info.poll_events"] = Offset<FuseFileInfo>(nameof(FuseFileInfo.PollEvents)),
            ["fuse_file_info.direct_io_mask"] = FuseFileInfo.DirectIoBit,
            ["fuse_file_info.keep_cache_mask"] = FuseFileInfo.KeepCacheBit,
            ["fuse_file_info.nonseekable_mask"] = FuseFileInfo.NonSeekableBit,
            ["fuse_file_info.noflush_mask"] = FuseFileInfo.NoFlushBit,
            ["sizeof.fuse_entry_param"] = sizeof(FuseEntryParam),
            ["fuse_entry_param.ino"] = Offset<FuseEntryParam>(nameof(FuseEntryParam.Inode)),
            ["fuse_entry_param.generation"] = Offset<FuseEntryParam>(nameof(FuseEntryParam.Generation)),
            ["fuse_entry_param.attr"] = Offset<FuseEntryParam>(nameof(FuseEntryParam.Attributes)),
            ["fuse_entry_param.attr_timeout"] = Offset<FuseEntryParam>(nameof(FuseEntryParam.AttributeTimeout)),
            ["fuse_entry_param.entry_timeout"] = Offset<FuseEntryParam>(nameof(FuseEntryParam.EntryTimeout)),
            ["sizeof.fuse_conn_info"] = sizeof(FuseConnInfo),
            ["fuse_conn_info.proto_major"] = Offset<FuseConnInfo>(nameof(FuseConnInfo.ProtocolMajor)),
            ["fuse_conn_info.proto_minor"] = Offset<FuseConnInfo>(nameof(FuseConnInfo.ProtocolMinor)),
            ["fuse_conn_info.max_write"] = Offset<FuseConnInfo>(nameof(FuseConnInfo.MaxWrite)),
            ["fuse_conn_info.max_read"] = Offset<FuseConnInfo>(nameof(FuseConnInfo.MaxRead)),
            ["fuse_conn_info.max_readahead"] = Offset<FuseConnInfo>(nameof(FuseConnInfo.MaxReadahead)),
            ["fuse_conn_info.capable"] = Offset<FuseConnInfo>(nameof(FuseConnInfo.Capable)),
            ["fuse_conn_info.want"] = Offset<FuseConnInfo>(nameof(FuseConnInfo.Want)),
            ["fuse_conn_info.max_background"] = Offset<FuseConnInfo>(nameof(FuseConnInfo.MaxBackground)),
            ["fuse_conn_info.congestion_threshold"] = Offset<FuseConnInfo>(nameof(FuseConnInfo.CongestionThreshold)),
            ["fuse_conn_info.time_gran"] = Offset<FuseConnInfo>(nameof(FuseConnInfo.TimeGranularity)),
            ["sizeof.fuse_args"] = sizeof(FuseArgs),
            ["fuse_args.argc"] = Offset<FuseArgs>(nameof(FuseArgs.Count)),
            ["fuse_args.argv"] = Offset<FuseArgs>(nameof(FuseArgs.Values)),
            ["fuse_args.allocated"] = Offset<FuseArgs>(nameof(FuseArgs.Allocated)),
            ["sizeof.fuse_lowlevel_ops"] = sizeof(FuseLowLevelOps),
            ["fuse_lowlevel_ops.init"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Init)),
            ["fuse_lowlevel_ops.lookup"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Lookup)),
            ["fuse_lowlevel_ops.getattr"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.GetAttr)),
            ["fuse_lowlevel_ops.setattr"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.SetAttr)),
            ["fuse_lowlevel_ops.mknod"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.MkNod)),
            ["fuse_lowlevel_ops.mkdir"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.MkDir)),
            ["fuse_lowlevel_ops.unlink"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Unlink)),
            ["fuse_lowlevel_ops.rmdir"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.RmDir)),
            ["fuse_lowlevel_ops.symlink"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Symlink)),
            ["fuse_lowlevel_ops.rename"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Rename)),
            ["fuse_lowlevel_ops.link"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Link)),
            ["fuse_lowlevel_ops.open"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Open)),
            ["fuse_lowlevel_ops.read"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Read)),
            ["fuse_lowlevel_ops.write"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Write)),
            ["fuse_lowlevel_ops.flush"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Flush)),
            ["fuse_lowlevel_ops.release"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Release)),
            ["fuse_lowlevel_ops.fsync"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Fsync)),
            ["fuse_lowlevel_ops.readdir"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.ReadDir)),
            ["fuse_lowlevel_ops.statfs"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.StatFs)),
            ["fuse_lowlevel_ops.create"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Create)),
            ["fuse_lowlevel_ops.fallocate"] = Offset<FuseLowLevelOps>(nameof(FuseLowLevelOps.Fallocate)),
        };
        foreach (var (key, value) in Expected)
        {
            // Constants are plain numbers on both sides; only layouts need measuring.
            if (key.StartsWith("const.", StringComparison.Ordinal))
            {
                measured[key] = value;
            }
        }

        return measured;
    }

    private static long Offset<T>(string field) where T : unmanaged => Marshal.OffsetOf<T>(field).ToInt64();

    private static string? FindProblem()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return $"DataflowVdo.Fuse declares x86_64 Linux struct layouts (struct stat = {StatSize} bytes); "
                + $"this process is {RuntimeInformation.OSDescription} on {RuntimeInformation.ProcessArchitecture}.";
        }

        var measured = Measure();
        var mismatches = new StringBuilder();
        foreach (var (key, expected) in Expected)
        {
            long actual = measured.TryGetValue(key, out long value) ? value : -1;
            if (actual != expected)
            {
                mismatches.Append($" {key}: binding has {actual}, native is {expected};");
            }
        }

        if (mismatches.Length > 0)
        {
            return "DataflowVdo.Fuse native layout mismatch:" + mismatches;
        }

        int version;
        try
        {
            version = LibFuse.Version();
        }
        catch (DllNotFoundException ex)
        {
            return $"{LibFuse.Library} could not be loaded ({ex.Message}); install the libfuse3-3 package ({FuseAvailability.InstallCommand}).";
        }

        if (version < MinimumFuseVersion)
        {
            return $"libfuse {version / 100}.{version % 100} is too old: DataflowVdo.Fuse needs at least 3.12 "
                + "(fuse_session_loop_mt_312 and the fuse_loop_cfg_* API).";
        }

        return CrossCheckStatWithLibc();
    }

    /// <summary>
    /// The one layout we can check against the real C library at run time: stat() a file .NET also
    /// knows the length of, and compare st_size and the file type bits in st_mode.
    /// </summary>
    private static unsafe string? CrossCheckStatWithLibc()
    {
        string? path = Environment.ProcessPath;
        if (path is null || !File.Exists(path))
        {
            return null;
        }

        Stat stat;
        try
        {
            if (LibC.Stat(path, &stat) != 0)
            {
                return null;
            }
        }
        catch (EntryPointNotFoundException)
        {
            // glibc older than 2.33 only exports __xstat; the static checks above still hold.
            return null;
        }

        long length = new FileInfo(path).Length;
        if (stat.Size != length || (stat.Mode & FuseConstants.SIfMt) != FuseConstants.SIfReg)
        {
            return $"DataflowVdo.Fuse native layout mismatch: libc stat(\"{path}\") reported st_size={stat.Size}, "
                + $"st_mode=0x{stat.Mode:x} through the managed struct stat, but the file is {length} bytes long and regular.";
        }

        return null;
    }
}
