using System.Buffers.Binary;
using System.Security.Cryptography;

namespace DataflowVdo.Blocks.Chunking;

/// <summary>
/// The 256 random 64-bit values of a gear rolling hash, derived from a key. Keying the table per
/// pool (from the pool's random nonce, written at format) means cut points cannot be predicted
/// from the data alone by someone who does not know the pool, as restic keys its polynomial per
/// repository; two pools cut the same stream differently, one pool always the same way.
/// </summary>
public sealed class GearTable
{
    private readonly ulong[] _values = new ulong[256];

    /// <summary>The table for <paramref name="key"/> (any length).</summary>
    public GearTable(ReadOnlySpan<byte> key)
    {
        // SHA-256 in counter mode over the key: 32 bytes give four values.
        Span<byte> input = stackalloc byte[key.Length + 12];
        "dvdogear"u8.CopyTo(input);
        key.CopyTo(input[8..]);
        Span<byte> digest = stackalloc byte[32];
        for (var i = 0; i < 64; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(input[(8 + key.Length)..], i);
            SHA256.HashData(input, digest);
            for (var j = 0; j < 4; j++)
                _values[(i * 4) + j] = BinaryPrimitives.ReadUInt64LittleEndian(digest[(j * 8)..]);
        }
    }

    /// <summary>The table of a pool, keyed by its nonce.</summary>
    public static GearTable ForPool(ulong nonce)
    {
        Span<byte> key = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(key, nonce);
        return new GearTable(key);
    }

    /// <summary>The 256 values, indexed by byte.</summary>
    internal ulong[] Values => _values;
}
