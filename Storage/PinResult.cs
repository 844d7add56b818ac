namespace DataflowVdo.Storage;

/// <summary>What <see cref="SlabDepot.TryPin"/> found.</summary>
public enum PinResult
{
    /// <summary>Pinned: the block stays allocated until the write's increment is logged or it unpins.</summary>
    Pinned,

    /// <summary>The block is free (the hint is stale).</summary>
    Free,

    /// <summary>The block is allocated to a write that has not finished it: no hint, but not stale either.</summary>
    Busy,

    /// <summary>The block cannot take another reference (254 sharers, or a block-map page).</summary>
    Full,
}
