namespace DataflowVdo.Storage;

/// <summary>Sizes and limits of the on-disk format that every structure shares.</summary>
public static class VdoConstants
{
    /// <summary>Every logical and physical block is 4 KiB.</summary>
    public const int BlockSize = 4096;

    /// <summary>Sector size used for torn-write detection in the recovery journal.</summary>
    public const int SectorSize = 512;

    /// <summary>Highest number of mappings that may share one physical block (VDO: 254).</summary>
    public const byte MaximumReferenceCount = 254;

    /// <summary>Reference count of an allocated block whose first mapping is not yet journaled.</summary>
    public const byte ProvisionalReferenceCount = 255;

    /// <summary>Compressed fragments per packed block (VDO: 14).</summary>
    public const int MaxFragmentsPerPackedBlock = 14;

    /// <summary>
    /// Current on-disk format version; written into every metadata block. Version 2 keeps a data
    /// checksum with every mapping (9-byte block-map entries, 20-byte journal entries); a version 1
    /// pool is refused by name (<see cref="UnsupportedFormatException"/>).
    /// </summary>
    public const ushort FormatVersion = 2;
}
