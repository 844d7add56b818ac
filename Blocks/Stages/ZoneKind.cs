namespace DataflowVdo.Blocks.Stages;

/// <summary>
/// What runs a stage: a zone (owns structures; one request at a time per zone) or a worker pool
/// (stateless; many at once). The logical, hash and physical kinds have several zones each.
/// </summary>
public enum ZoneKind
{
    /// <summary>Block naming (pool).</summary>
    Hash,

    /// <summary>Logical zones: the block map and the LBNs' logical locks.</summary>
    Logical,

    /// <summary>Hash zones: hash locks and the dedupe index.</summary>
    HashZone,

    /// <summary>Physical zones: slabs, their allocator, reference counts and slab journals.</summary>
    Physical,

    /// <summary>Verify reads and compares (pool).</summary>
    Verify,

    /// <summary>Compression (pool).</summary>
    Compress,

    /// <summary>The packer's bins (zone).</summary>
    Packer,

    /// <summary>Data-block writes (pool).</summary>
    DataWrite,

    /// <summary>The recovery journal (zone).</summary>
    Journal,

    /// <summary>Data reads and decompression (pool).</summary>
    Read,
}

/// <summary>Zone-kind helpers.</summary>
public static class ZoneKinds
{
    /// <summary>Number of zone kinds.</summary>
    public const int Count = 10;

    /// <summary>True for a stateless worker pool (runs many requests at once, owns no structure).</summary>
    public static bool IsPool(this ZoneKind kind) => kind is ZoneKind.Hash or ZoneKind.Verify or ZoneKind.Compress or ZoneKind.DataWrite or ZoneKind.Read;

    /// <summary>The node id prefix of the kind in the drawn graph (<c>logical</c> → <c>logical0</c>, <c>logical1</c>…).</summary>
    public static string NodeName(this ZoneKind kind) => kind switch
    {
        ZoneKind.Hash => "hash",
        ZoneKind.Logical => "logical",
        ZoneKind.HashZone => "hashzone",
        ZoneKind.Physical => "physical",
        ZoneKind.Verify => "verify",
        ZoneKind.Compress => "compress",
        ZoneKind.Packer => "packer",
        ZoneKind.DataWrite => "datawrite",
        ZoneKind.Journal => "journal",
        _ => "read",
    };

    /// <summary>True when the kind has several zones (node ids carry the zone number).</summary>
    public static bool IsZoned(this ZoneKind kind) => kind is ZoneKind.Logical or ZoneKind.HashZone or ZoneKind.Physical;
}
