using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Fuse;

/// <summary>
/// What a mount of a pool serves: one <see cref="VolumeImageFile"/> per image of the volume's
/// catalog (the same object for the same image across calls, so its write lock is shared), and
/// the pool's data space for statfs.
/// </summary>
public sealed class VolumeCatalogView : IImageCatalogView
{
    private readonly Volume _volume;
    private readonly Lock _sync = new();
    private Dictionary<ImageEntry, IImageFile> _files = [];

    /// <summary>A view of <paramref name="volume"/>'s images.</summary>
    public VolumeCatalogView(Volume volume) => _volume = volume;

    /// <inheritdoc />
    public IReadOnlyList<IImageFile> Images
    {
        get
        {
            var entries = _volume.Images;
            lock (_sync)
            {
                // Records are immutable: an unchanged record keeps its file (and its lock).
                var next = new Dictionary<ImageEntry, IImageFile>(entries.Count);
                var list = new List<IImageFile>(entries.Count);
                foreach (var entry in entries)
                {
                    if (!_files.TryGetValue(entry, out var file))
                        file = FileFor(entry);
                    next[entry] = file;
                    list.Add(file);
                }
                _files = next;
                return list;
            }
        }
    }

    /// <summary>
    /// A backup with a manifest (written by ingest) shows its original stream; any other image,
    /// or a backup created without a manifest through the API, its blocks as they are.
    /// </summary>
    private IImageFile FileFor(ImageEntry entry)
    {
        if (entry.Kind == ImageKind.Backup)
        {
            try
            {
                return new BackupImageFile(_volume, entry, _volume.ReadBackupManifest(entry));
            }
            catch (CorruptMetadataException)
            {
                // No manifest: served read-only, block for block (restore names the damage).
            }
        }
        return new VolumeImageFile(_volume, entry);
    }

    /// <inheritdoc />
    public long TotalBytes
    {
        get
        {
            var s = _volume.GetStatistics();
            return (s.DataBlocksUsed + s.FreeBlocks) * VdoConstants.BlockSize;
        }
    }

    /// <inheritdoc />
    public long FreeBytes => _volume.GetStatistics().FreeBlocks * VdoConstants.BlockSize;
}
