namespace DataflowVdo.Config;

/// <summary>Section <c>Volume</c>: behaviour of an open volume.</summary>
public sealed class VolumeOptions
{
    /// <summary>When writes are acknowledged (<c>Async</c> or <c>Sync</c>).</summary>
    public WritePolicy WritePolicy { get; set; } = WritePolicy.Async;

    /// <summary>Block-map leaf-page cache, in MiB (VDO default 128).</summary>
    public int BlockMapCacheMb { get; set; } = 128;
}
