namespace DataflowVdo.Storage;

/// <summary>The 4-bit state of a block-map entry (VDO's encoding).</summary>
public enum MappingState : byte
{
    /// <summary>Never written, or discarded: reads return zeros.</summary>
    Unmapped = 0,

    /// <summary>A whole 4 KiB block (PBN 0 with this state is the zero block).</summary>
    Uncompressed = 1,

    /// <summary>Slot 0 of a packed block; slots 1..13 follow as 3..15.</summary>
    CompressedSlot0 = 2,
}
