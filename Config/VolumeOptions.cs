namespace DataflowVdo.Config;

/// <summary>Section <c>Volume</c>: behaviour of an open volume.</summary>
public sealed class VolumeOptions
{
    /// <summary>When writes are acknowledged (<c>Async</c> or <c>Sync</c>).</summary>
    public WritePolicy WritePolicy { get; set; } = WritePolicy.Async;

    /// <summary>Block-map leaf-page cache, in MiB (VDO default 128).</summary>
    public int BlockMapCacheMb { get; set; } = 128;

    /// <summary>
    /// MiB of the most recent buffered data writes a pool file leaves in the kernel's page cache;
    /// older ones are dropped once written back (0 = leave every page to the kernel).
    /// </summary>
    public int PageCacheWindowMb { get; set; } = 1024;
}
