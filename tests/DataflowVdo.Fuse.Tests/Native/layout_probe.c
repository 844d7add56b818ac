/*
 * Prints the native sizes, offsets and constants the DataflowVdo.Fuse binding hard-codes
 * (Fuse/Native/NativeLayout.cs), one "key=value" per line. Build and run:
 *   gcc -I/usr/include/fuse3 layout_probe.c -o layout_probe && ./layout_probe
 * Only headers are needed; the program does not link against libfuse.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#define SIZE(key, type) printf("sizeof.%s=%zu\n", key, sizeof(type))
#define OFF(key, type, field) printf("%s.%s=%zu\n", key, #field, offsetof(type, field))
#define CONST(name) printf("const.%s=%ld\n", #name, (long)(name))

static unsigned bitfield_mask(void (*set)(struct fuse_file_info *))
{
    struct fuse_file_info fi;
    unsigned word;
    memset(&fi, 0, sizeof fi);
    set(&fi);
    memcpy(&word, (char *)&fi + offsetof(struct fuse_file_info, flags) + sizeof fi.flags, sizeof word);
    return word;
}
static void set_direct_io(struct fuse_file_info *fi) { fi->direct_io = 1; }
static void set_keep_cache(struct fuse_file_info *fi) { fi->keep_cache = 1; }
static void set_nonseekable(struct fuse_file_info *fi) { fi->nonseekable = 1; }
static void set_noflush(struct fuse_file_info *fi) { fi->noflush = 1; }

int main(void)
{
    SIZE("timespec", struct timespec);
    SIZE("stat", struct stat);
    OFF("stat", struct stat, st_dev); OFF("stat", struct stat, st_ino); OFF("stat", struct stat, st_nlink);
    OFF("stat", struct stat, st_mode); OFF("stat", struct stat, st_uid); OFF("stat", struct stat, st_gid);
    OFF("stat", struct stat, st_rdev); OFF("stat", struct stat, st_size); OFF("stat", struct stat, st_blksize);
    OFF("stat", struct stat, st_blocks); OFF("stat", struct stat, st_atim); OFF("stat", struct stat, st_mtim);
    OFF("stat", struct stat, st_ctim);

    SIZE("statvfs", struct statvfs);
    OFF("statvfs", struct statvfs, f_bsize); OFF("statvfs", struct statvfs, f_frsize);
    OFF("statvfs", struct statvfs, f_blocks); OFF("statvfs", struct statvfs, f_bfree);
    OFF("statvfs", struct statvfs, f_bavail); OFF("statvfs", struct statvfs, f_files);
    OFF("statvfs", struct statvfs, f_ffree); OFF("statvfs", struct statvfs, f_favail);
    OFF("statvfs", struct statvfs, f_fsid); OFF("statvfs", struct statvfs, f_flag);
    OFF("statvfs", struct statvfs, f_namemax);

    SIZE("fuse_file_info", struct fuse_file_info);
    OFF("fuse_file_info", struct fuse_file_info, flags);
    printf("fuse_file_info.bitfields=%zu\n", offsetof(struct fuse_file_info, flags) + sizeof(int));
    OFF("fuse_file_info", struct fuse_file_info, fh);
    OFF("fuse_file_info", struct fuse_file_info, lock_owner);
    OFF("fuse_file_info", struct fuse_file_info, poll_events);
    printf("fuse_file_info.direct_io_mask=%u\n", bitfield_mask(set_direct_io));
    printf("fuse_file_info.keep_cache_mask=%u\n", bitfield_mask(set_keep_cache));
    printf("fuse_file_info.nonseekable_mask=%u\n", bitfield_mask(set_nonseekable));
    printf("fuse_file_info.noflush_mask=%u\n", bitfield_mask(set_noflush));

    SIZE("fuse_entry_param", struct fuse_entry_param);
    OFF("fuse_entry_param", struct fuse_entry_param, ino);
    OFF("fuse_entry_param", struct fuse_entry_param, generation);
    OFF("fuse_entry_param", struct fuse_entry_param, attr);
    OFF("fuse_entry_param", struct fuse_entry_param, attr_timeout);
    OFF("fuse_entry_param", struct fuse_entry_param, entry_timeout);

    SIZE("fuse_conn_info", struct fuse_conn_info);
    OFF("fuse_conn_info", struct fuse_conn_info, proto_major); OFF("fuse_conn_info", struct fuse_conn_info, proto_minor);
    OFF("fuse_conn_info", struct fuse_conn_info, max_write); OFF("fuse_conn_info", struct fuse_conn_info, max_read);
    OFF("fuse_conn_info", struct fuse_conn_info, max_readahead); OFF("fuse_conn_info", struct fuse_conn_info, capable);
    OFF("fuse_conn_info", struct fuse_conn_info, want); OFF("fuse_conn_info", struct fuse_conn_info, max_background);
    OFF("fuse_conn_info", struct fuse_conn_info, congestion_threshold);
    OFF("fuse_conn_info", struct fuse_conn_info, time_gran);

    SIZE("fuse_args", struct fuse_args);
    OFF("fuse_args", struct fuse_args, argc); OFF("fuse_args", struct fuse_args, argv);
    OFF("fuse_args", struct fuse_args, allocated);

    SIZE("fuse_lowlevel_ops", struct fuse_lowlevel_ops);
#define OP(f) OFF("fuse_lowlevel_ops", struct fuse_lowlevel_ops, f)
    OP(init); OP(lookup); OP(getattr); OP(setattr); OP(mknod); OP(mkdir); OP(unlink); OP(rmdir);
    OP(symlink); OP(rename); OP(link); OP(open); OP(read); OP(write); OP(flush); OP(release);
    OP(fsync); OP(readdir); OP(statfs); OP(create); OP(fallocate);

    CONST(FUSE_SET_ATTR_MODE); CONST(FUSE_SET_ATTR_UID); CONST(FUSE_SET_ATTR_GID);
    CONST(FUSE_SET_ATTR_SIZE); CONST(FUSE_SET_ATTR_ATIME); CONST(FUSE_SET_ATTR_MTIME);
    CONST(FUSE_CAP_ASYNC_READ); CONST(FUSE_CAP_ATOMIC_O_TRUNC); CONST(FUSE_CAP_ASYNC_DIO);
    CONST(FUSE_CAP_WRITEBACK_CACHE);
    CONST(FALLOC_FL_KEEP_SIZE); CONST(FALLOC_FL_PUNCH_HOLE); CONST(FALLOC_FL_ZERO_RANGE);
    CONST(O_TRUNC); CONST(EROFS); CONST(ENOSPC); CONST(EOPNOTSUPP); CONST(EFBIG);
    return 0;
}
