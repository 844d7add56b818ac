namespace DataflowVdo.Blocks;

/// <summary>What a <see cref="DataVio"/> is doing.</summary>
public enum VioOperation : byte
{
    /// <summary>Write one 4 KiB block.</summary>
    Write,
    /// <summary>Read one 4 KiB block.</summary>
    Read,
    /// <summary>Unmap one 4 KiB block.</summary>
    Discard,
}
