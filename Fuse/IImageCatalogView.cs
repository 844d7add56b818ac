namespace DataflowVdo.Fuse;

/// <summary>
/// What a mount serves: the images listed in its root directory and the figures statfs reports.
/// The list is read on every lookup/readdir, so images added later appear without remounting;
/// a name keeps the same inode number for the lifetime of the mount.
/// </summary>
public interface IImageCatalogView
{
    /// <summary>The current images; names must be unique (ordinal comparison).</summary>
    IReadOnlyList<IImageFile> Images { get; }

    /// <summary>Capacity of the backing store in bytes (statfs f_blocks × f_frsize).</summary>
    long TotalBytes { get; }

    /// <summary>Free space of the backing store in bytes (statfs f_bfree/f_bavail × f_frsize).</summary>
    long FreeBytes { get; }
}
