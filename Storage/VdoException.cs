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
