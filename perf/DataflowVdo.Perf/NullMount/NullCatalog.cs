using DataflowVdo.Fuse;

namespace DataflowVdo.Perf.NullMount;

/// <summary>The catalog of a null mount: one <see cref="NullImageFile"/>, and statfs figures that claim its size free.</summary>
internal sealed class NullCatalog(NullImageFile image) : IImageCatalogView
{
    public IReadOnlyList<IImageFile> Images { get; } = [image];

    public long TotalBytes => image.Size;

    public long FreeBytes => image.Size;
}
