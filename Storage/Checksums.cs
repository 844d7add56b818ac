using System.IO.Hashing;

namespace DataflowVdo.Storage;

/// <summary>CRC-32 over a few spans, with one reusable hasher per thread (no allocation per block).</summary>
internal static class Checksums
{
    [ThreadStatic]
    private static Crc32? _hasher;

    /// <summary>CRC-32 of the concatenation of the spans; a 4-byte hole of zeros stands for the stored checksum.</summary>
    public static uint Compute(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c = default, ReadOnlySpan<byte> d = default)
    {
        var crc = _hasher ??= new Crc32();
        crc.Reset();
        crc.Append(a);
        crc.Append(b);
        crc.Append(c);
        crc.Append(d);
        return crc.GetCurrentHashAsUInt32();
    }

    /// <summary>Four zero bytes: the checksum field hashed as zeros.</summary>
    public static ReadOnlySpan<byte> ZeroField => [0, 0, 0, 0];
}
