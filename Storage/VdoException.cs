namespace DataflowVdo.Storage;

/// <summary>Base of every error the volume reports on purpose; its message names the problem.</summary>
public class VdoException : Exception
{
    /// <summary>Creates an error with a message that names the problem.</summary>
    public VdoException(string message) : base(message) { }

    /// <summary>Creates an error with a message and the underlying cause.</summary>
    public VdoException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A metadata block failed its checksum or held an impossible value; names the structure.</summary>
public sealed class CorruptMetadataException : VdoException
{
    /// <summary>Creates the error for <paramref name="structure"/> (e.g. "block map page 3 (PBN 812)").</summary>
    public CorruptMetadataException(string structure, string detail)
        : base($"corrupt metadata in {structure}: {detail}") => Structure = structure;

    /// <summary>The structure that is damaged, as a user can look it up.</summary>
    public string Structure { get; }
}

/// <summary>The pool has no free physical block for a write that cannot be deduplicated.</summary>
public sealed class OutOfSpaceException : VdoException
{
    /// <summary>Creates the out-of-space error.</summary>
    public OutOfSpaceException(string message) : base(message) { }
}

/// <summary>The volume refuses writes because it found damage; the message says where.</summary>
public sealed class ReadOnlyVolumeException : VdoException
{
    /// <summary>Creates the error with the reason the volume went read-only.</summary>
    public ReadOnlyVolumeException(string reason) : base($"volume is read-only: {reason}") { }
}

/// <summary>The pool was formatted by a build whose on-disk format this one does not read.</summary>
public sealed class UnsupportedFormatException : VdoException
{
    /// <summary>Creates the error for a pool of format <paramref name="version"/>.</summary>
    public UnsupportedFormatException(int version)
        : base(version < VdoConstants.FormatVersion
            ? $"the pool has on-disk format version {version}, from before data checksums; this build reads version {VdoConstants.FormatVersion} only. "
              + "Copy its images out with the build that wrote it (dvdo restore, or a mount), format a new pool and copy them in"
            : $"the pool has on-disk format version {version}, newer than this build's {VdoConstants.FormatVersion}: use a newer build")
        => Version = version;

    /// <summary>The pool's format version.</summary>
    public int Version { get; }
}

/// <summary>
/// A data block (or a fragment of a packed block) does not match the checksum kept with its
/// mapping: the read fails rather than return wrong data. Names the LBN and the PBN.
/// </summary>
public sealed class DataChecksumException : VdoException
{
    /// <summary>Creates the error for <paramref name="lbn"/> mapped to <paramref name="mapping"/>.</summary>
    public DataChecksumException(long lbn, BlockMapping mapping)
        : base($"data checksum mismatch reading LBN {lbn} from {mapping}: the stored block is damaged (run 'dvdo scrub')")
    {
        Lbn = lbn;
        Mapping = mapping;
    }

    /// <summary>The logical block read.</summary>
    public long Lbn { get; }

    /// <summary>Its mapping (PBN, and slot for a packed block).</summary>
    public BlockMapping Mapping { get; }

    /// <summary>The damaged physical block.</summary>
    public long Pbn => Mapping.Pbn;
}
