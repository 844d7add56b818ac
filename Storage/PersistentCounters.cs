using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>
/// Statistics kept across opens in the superblock (vdostats' cumulative counters). They are
/// saved at each checkpoint, so a crash may lose the increments since the last one; the
/// space figures (blocks used) are never taken from here but recomputed from the structures.
/// </summary>
public sealed class PersistentCounters
{
    private const int Count = 17;
    private readonly long[] _values = new long[Count];

    /// <summary>4 KiB writes accepted (including zero writes).</summary>
    public ref long WritesIn => ref _values[0];
    /// <summary>4 KiB reads served.</summary>
    public ref long ReadsIn => ref _values[1];
    /// <summary>4 KiB discards applied.</summary>
    public ref long DiscardsIn => ref _values[2];
    /// <summary>Flushes served.</summary>
    public ref long FlushesIn => ref _values[3];
    /// <summary>Writes of an all-zero block (no allocation, no data write).</summary>
    public ref long ZeroBlocksWritten => ref _values[4];
    /// <summary>Writes that shared an existing block after verification.</summary>
    public ref long DedupeAdviceValid => ref _values[5];
    /// <summary>Index hints that turned out wrong on verification (or pointed at a freed or full block).</summary>
    public ref long DedupeAdviceStale => ref _values[6];
    /// <summary>Writes stored as a compressed fragment.</summary>
    public ref long CompressedFragmentsWritten => ref _values[7];
    /// <summary>Packed blocks written.</summary>
    public ref long CompressedBlocksWritten => ref _values[8];
    /// <summary>Sum of the compressed fragment sizes in bytes.</summary>
    public ref long CompressedFragmentBytes => ref _values[9];
    /// <summary>Uncompressed data blocks written.</summary>
    public ref long DataBlocksWritten => ref _values[10];
    /// <summary>Recovery-journal entries appended.</summary>
    public ref long JournalEntries => ref _values[11];
    /// <summary>Recovery-journal block writes (group commits).</summary>
    public ref long JournalBlockWrites => ref _values[12];
    /// <summary>Checkpoints taken (journal space reclaimed).</summary>
    public ref long Checkpoints => ref _values[13];
    /// <summary>Writes that made a new copy because the candidate had 254 references.</summary>
    public ref long DedupeRollovers => ref _values[14];
    /// <summary>Recoveries run after an unclean shutdown.</summary>
    public ref long Recoveries => ref _values[15];
    /// <summary>Reads (and scrubs) that found a data block or fragment failing its checksum (format version 2).</summary>
    public ref long DataChecksumFailures => ref _values[16];

    /// <summary>Copies all values (for a snapshot).</summary>
    public PersistentCounters Clone()
    {
        var c = new PersistentCounters();
        _values.CopyTo(c._values, 0);
        return c;
    }

    internal void Encode(Span<byte> destination)
    {
        for (var i = 0; i < Count; i++)
            BinaryPrimitives.WriteInt64LittleEndian(destination[(i * 8)..], _values[i]);
    }

    internal static PersistentCounters Decode(ReadOnlySpan<byte> source)
    {
        var c = new PersistentCounters();
        for (var i = 0; i < Count; i++)
            c._values[i] = BinaryPrimitives.ReadInt64LittleEndian(source[(i * 8)..]);
        return c;
    }
}
