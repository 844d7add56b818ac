namespace DataflowVdo.Torture;

/// <summary>The workloads a crash point runs before its power cut (one per point, chosen by its seed).</summary>
internal enum WorkloadKind
{
    /// <summary>Writes of unique incompressible blocks to many LBNs.</summary>
    Writes,
    /// <summary>Writes again and again to a few LBNs (block-map updates, freed blocks reused).</summary>
    Overwrites,
    /// <summary>Writes mixed with many discards (decrements, freed space).</summary>
    Discards,
    /// <summary>Few distinct contents: most writes share a block (dedupe, verify, reference counts near sharing).</summary>
    DedupeHeavy,
    /// <summary>Compressible blocks: the packer, packed blocks and fragment mappings.</summary>
    Compressible,
    /// <summary>Images created and removed (catalog writes, extent discards) with writes inside them.</summary>
    Images,
    /// <summary>All of the above at once, including zero blocks.</summary>
    Mixed,
}
