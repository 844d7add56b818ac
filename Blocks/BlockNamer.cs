using System.IO.Hashing;

namespace DataflowVdo.Blocks;

/// <summary>Computes a block's name. The default is XxHash128; tests inject weak ones to prove names are only hints (I4).</summary>
public delegate UInt128 BlockNamer(ReadOnlySpan<byte> block);

/// <summary>The standard namers.</summary>
public static class BlockNamers
{
    /// <summary>XxHash128 of the 4 KiB block.</summary>
    public static readonly BlockNamer XxHash128Namer = static block => XxHash128.HashToUInt128(block);
}
