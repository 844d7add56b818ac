using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace DataflowVdo.Storage;

/// <summary>
/// The dedupe index's records (block name → mapping and chapter): an open-addressing hash table
/// with linear probing, sized once for the index's capacity at half load, so it never grows.
/// A name is already a uniform hash, so its slot comes straight from it, and a lookup touches one
/// 32-byte slot (usually one cache line), where a <see cref="Dictionary{TKey,TValue}"/> touched
/// a bucket and then an entry: on a large index each was a cache miss, together a fifth of the
/// mount's CPU at 1 MiB writes, under the volume's lock (perf/README.md). <see cref="Prefetch"/>
/// lets a caller start those misses ahead of time. Removal shifts the probe run back (no
/// tombstones). One owner at a time, like the index.
/// </summary>
internal sealed unsafe class IndexRecordTable
{
    private readonly Slot[] _slots; // pinned: Prefetch computes addresses without the owner's lock
    private readonly ulong _size;

    /// <summary>A table for at most <paramref name="capacity"/> records (see <see cref="Capacity"/>).</summary>
    public IndexRecordTable(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _size = (ulong)Math.Min((long)Array.MaxLength, Math.Max(16L, 2L * capacity));
        _slots = GC.AllocateArray<Slot>((int)_size, pinned: true);
        Capacity = (int)Math.Min((ulong)capacity, _size / 8 * 7); // only an index of ~2^30 records fills more than half
    }

    /// <summary>Most records the table holds.</summary>
    public int Capacity { get; }

    /// <summary>Records held.</summary>
    public int Count { get; private set; }

    /// <summary>The record of <paramref name="name"/>, if any.</summary>
    public bool TryGet(UInt128 name, out BlockMapping mapping, out long chapter)
    {
        for (var i = Home(name); ; i = Next(i))
        {
            ref var s = ref _slots[i];
            if (s.Chapter == 0)
                break;
            if (s.Name == name)
            {
                mapping = Unpack(s.Mapping);
                chapter = s.Chapter - 1;
                return true;
            }
        }
        mapping = default;
        chapter = 0;
        return false;
    }

    /// <summary>Records <paramref name="name"/> at <paramref name="mapping"/> in <paramref name="chapter"/> (added, or replacing its record).</summary>
    public void Set(UInt128 name, BlockMapping mapping, long chapter)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(chapter);
        for (var i = Home(name); ; i = Next(i))
        {
            ref var s = ref _slots[i];
            if (s.Chapter == 0)
            {
                if (Count == Capacity)
                    throw new InvalidOperationException($"dedupe index table is full ({Capacity} records): the index expires chapters before that (bug)");
                s.Name = name;
                Count++;
            }
            else if (s.Name != name)
                continue;
            s.Mapping = Pack(mapping);
            s.Chapter = chapter + 1;
            return;
        }
    }

    /// <summary>
    /// Removes <paramref name="name"/>'s record if it still holds <paramref name="mapping"/>
    /// (or, when <paramref name="mapping"/> is null, if it is in <paramref name="chapter"/>);
    /// returns whether it did.
    /// </summary>
    public bool RemoveIf(UInt128 name, BlockMapping? mapping, long chapter)
    {
        for (var i = Home(name); ; i = Next(i))
        {
            ref var s = ref _slots[i];
            if (s.Chapter == 0)
                return false;
            if (s.Name != name)
                continue;
            if (mapping is { } m ? s.Mapping != Pack(m) : s.Chapter != chapter + 1)
                return false;
            RemoveAt(i);
            return true;
        }
    }

    /// <summary>
    /// Starts loading <paramref name="name"/>'s slot into the cache, so that a lookup shortly
    /// after does not wait for memory. Safe without the owner's lock: it only computes an address
    /// in the table (which never moves) and reads nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(UInt128 name)
    {
        if (Sse.IsSupported)
        {
            var slots = (Slot*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_slots));
            Sse.Prefetch0(slots + Home(name));
        }
    }

    /// <summary>Every record (in table order).</summary>
    public IEnumerable<(UInt128 Name, BlockMapping Mapping, long Chapter)> Records()
    {
        for (var i = 0; i < _slots.Length; i++)
        {
            var s = _slots[i];
            if (s.Chapter != 0)
                yield return (s.Name, Unpack(s.Mapping), s.Chapter - 1);
        }
    }

    /// <summary>Empties slot <paramref name="hole"/>, moving later records of its probe run back so every lookup still finds them.</summary>
    private void RemoveAt(int hole)
    {
        Count--;
        for (var j = Next(hole); _slots[j].Chapter != 0; j = Next(j))
        {
            // The record at j may fill the hole unless its home lies cyclically in (hole, j].
            var home = Home(_slots[j].Name);
            var stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
            if (stays)
                continue;
            _slots[hole] = _slots[j];
            hole = j;
        }
        _slots[hole] = default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(UInt128 name) => (int)Math.BigMul((ulong)name, _size, out _);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Next(int i) => (ulong)(i + 1) == _size ? 0 : i + 1;

    private static ulong Pack(BlockMapping m) => ((ulong)m.Pbn << 8) | (byte)m.State;

    private static BlockMapping Unpack(ulong packed) => new((long)(packed >> 8), (MappingState)(byte)packed);

    /// <summary>One record: 32 bytes, two to a cache line. <see cref="Chapter"/> is the chapter + 1; 0 marks an empty slot.</summary>
    private struct Slot
    {
        public UInt128 Name;
        public ulong Mapping;
        public long Chapter;
    }
}
