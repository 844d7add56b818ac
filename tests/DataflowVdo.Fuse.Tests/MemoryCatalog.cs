
namespace DataflowVdo.Fuse.Tests;

/// <summary>A fixed list of images with made-up capacity figures.</summary>
public sealed class MemoryCatalog(params IImageFile[] images) : IImageCatalogView
{
    private volatile IImageFile[] _images = images;

    public IReadOnlyList<IImageFile> Images => _images;

    public long TotalBytes { get; set; } = 64L * 1024 * 1024 * 1024;

    public long FreeBytes { get; set; } = 48L * 1024 * 1024 * 1024;

    public void Add(IImageFile image) => _images = [.. _images, image];
}
