using System.Buffers.Binary;
using System.Numerics;

namespace DataflowVdo.Workloads;

/// <summary>
/// xoshiro256** seeded through SplitMix64. Chosen over <see cref="System.Random"/> because its
/// output is fixed by the published algorithm (figures stay comparable across .NET versions)
/// and it fills a block 8 bytes per step: the seeded <see cref="System.Random"/> produces one
/// byte per step, which made random-block generation the slowest part of preparing a run.
/// </summary>
internal sealed class Xoshiro256
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    public Xoshiro256(long seed)
    {
        ulong x = (ulong)seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = BitOperations.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>
    /// A value in [0, <paramref name="bound"/>) by Lemire's multiply-high; without the rejection
    /// step the bias is below bound / 2^64, far under anything a benchmark could see.
    /// </summary>
    public long NextInt64(long bound) => (long)Math.BigMul(NextUInt64(), (ulong)bound, out _);

    /// <summary>Fills <paramref name="destination"/>, written little-endian so every machine gets the same bytes.</summary>
    public void Fill(Span<byte> destination)
    {
        int i = 0;
        for (; i + sizeof(ulong) <= destination.Length; i += sizeof(ulong))
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination[i..], NextUInt64());
        }

        if (i < destination.Length)
        {
            Span<byte> tail = stackalloc byte[sizeof(ulong)];
            BinaryPrimitives.WriteUInt64LittleEndian(tail, NextUInt64());
            tail[..(destination.Length - i)].CopyTo(destination[i..]);
        }
    }

    /// <summary>Derives an independent seed, so two streams from one user seed do not overlap.</summary>
    public static long DeriveSeed(long seed, ulong stream)
    {
        ulong x = (ulong)seed ^ (stream * 0xD1B54A32D192ED03UL);
        return (long)SplitMix64(ref x);
    }

    private static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
