using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DataflowVdo.Blocks.Chunking;

/// <summary>
/// Content-defined chunking (FastCDC: Xia et al., USENIX ATC 2016, and its 2020 journal
/// version): a gear rolling hash <c>h = (h &lt;&lt; 1) + gear[byte]</c> whose top bits depend on the
/// last 64 bytes only, so a cut point depends on local content and an insertion moves only
/// the cuts around it. Normalized chunking: below the average size the test needs two more
/// zero bits (cuts are rarer), above it two fewer (cuts come sooner), which narrows the size
/// distribution; no cut before the minimum (those bytes are not even hashed), one forced at
/// the maximum. Stateless and allocation-free: thread-safe.
/// </summary>
public sealed class GearChunker
{
    private readonly ulong[] _gear;
    private readonly ulong[] _gearShifted; // gear << 1: two bytes per step (FastCDC 2020)
    private readonly ulong _maskSmall; // below the average: more bits must be zero
    private readonly ulong _maskLarge; // above it: fewer

    /// <summary>A chunker over <paramref name="table"/> with the given sizes.</summary>
    public GearChunker(GearTable table, ChunkerParameters parameters)
    {
        var problem = parameters.Validate();
        if (problem is not null)
            throw new ArgumentException(problem, nameof(parameters));
        _gear = table.Values;
        _gearShifted = Array.ConvertAll(_gear, g => g << 1);
        Parameters = parameters;
        var bits = BitOperations.Log2((uint)parameters.AverageBytes);
        _maskSmall = TopBits(bits + 2);
        _maskLarge = TopBits(bits - 2);
    }

    /// <summary>The chunk sizes in effect.</summary>
    public ChunkerParameters Parameters { get; }

    /// <summary>
    /// The length of the chunk that starts at <paramref name="data"/>[0]. Pass at least
    /// <see cref="ChunkerParameters.MaxBytes"/> bytes unless the stream ends within them
    /// (<paramref name="final"/>): then the rest is one chunk if no cut is found. Returns 0 for
    /// empty data, and -1 when the data is shorter than the maximum, not final, and holds no cut.
    /// </summary>
    public int FindCut(ReadOnlySpan<byte> data, bool final)
    {
        var min = Parameters.MinBytes;
        var max = Parameters.MaxBytes;
        var n = data.Length;
        if (n <= min)
            return final || n >= max ? n : -1;
        var end = Math.Min(n, max);
        var normal = Math.Min(end, Parameters.AverageBytes);
        ref var bytes = ref MemoryMarshal.GetReference(data);
        ref var gear = ref MemoryArray(_gear);
        ref var shifted = ref MemoryArray(_gearShifted);
        var h = 0UL;
        var i = min;
        // Two bytes per step (FastCDC 2020): (h << 2) + (gear[a] << 1) is the hash after byte a,
        // shifted once, so it is tested against the mask shifted once (the masks leave bit 63
        // free, so no bit is lost); then + gear[b] is the hash after byte b. Two loops without a
        // size test inside. Measured with ChunkerBenchmarks (perf/README.md).
        var mask = _maskSmall;
        for (; i + 1 < normal; i += 2)
        {
            h = (h << 2) + Unsafe.Add(ref shifted, Unsafe.Add(ref bytes, i));
            if ((h & (mask << 1)) == 0)
                return i + 1;
            h += Unsafe.Add(ref gear, Unsafe.Add(ref bytes, i + 1));
            if ((h & mask) == 0)
                return i + 2;
        }
        mask = _maskLarge;
        for (; i + 1 < end; i += 2)
        {
            h = (h << 2) + Unsafe.Add(ref shifted, Unsafe.Add(ref bytes, i));
            if ((h & (mask << 1)) == 0)
                return i + 1;
            h += Unsafe.Add(ref gear, Unsafe.Add(ref bytes, i + 1));
            if ((h & mask) == 0)
                return i + 2;
        }
        if (i < end)
        {
            h = (h << 1) + Unsafe.Add(ref gear, Unsafe.Add(ref bytes, i));
            if ((h & mask) == 0)
                return i + 1;
        }
        if (end == max)
            return max;
        return final ? n : -1;
    }

    // Bits 62 down to 63 - count: the hash's top bits (they depend on the last 63 bytes), bit 63 left free.
    private static ulong TopBits(int count) => (~0UL << (64 - count)) >> 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref ulong MemoryArray(ulong[] array) => ref MemoryMarshal.GetArrayDataReference(array);
}
