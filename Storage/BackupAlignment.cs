namespace DataflowVdo.Storage;

/// <summary>How an ingested stream was laid out in its backup image; stored in its manifest.</summary>
public enum BackupAlignment : byte
{
    /// <summary>The stream as is, 4 KiB block after 4 KiB block (an insertion shifts every later block).</summary>
    Fixed = 1,
    /// <summary>Content-defined chunks, each starting on a 4 KiB boundary of the image, its last block zero-padded.</summary>
    Cdc = 2,
    /// <summary>
    /// Laid out as <see cref="Cdc"/> (a chunk map); the cuts were snapped to 4 KiB boundaries of the
    /// stream wherever it carried duplicates at that alignment (an older build refuses its manifest).
    /// </summary>
    Hybrid = 3,
}
