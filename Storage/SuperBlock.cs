using System.Buffers.Binary;
using System.Text;

namespace DataflowVdo.Storage;

/// <summary>
/// The state that changes at each checkpoint: where journal replay starts, whether the last
/// shutdown was clean, and persisted counters. Two copies (blocks 1 and 2) are written
/// alternately so a torn superblock write leaves the previous one readable.
/// </summary>
public sealed record SuperBlock
{
    /// <summary>Incremented by every write; the valid copy with the highest wins.</summary>
    public ulong Sequence { get; init; }
    /// <summary>True only while the pool is closed after a clean shutdown.</summary>
    public bool Clean { get; init; }
    /// <summary>True when the saved dedupe index region holds a complete save.</summary>
    public bool IndexSaved { get; init; }
    /// <summary>Every journal entry before this block sequence is reflected in the saved metadata.</summary>
    public ulong JournalReplayFrom { get; init; }
    /// <summary>Mapped logical blocks as of <see cref="JournalReplayFrom"/>; replay adjusts it.</summary>
    public long LogicalBlocksUsed { get; init; }

    /// <summary>
    /// The pool's logical size once grown (<see cref="Geometry.WithLogicalBlocks"/>); 0 = the
    /// geometry's, as formatted. Every superblock written after a growth carries it, so the two
    /// alternating copies can never fall back to the smaller size.
    /// </summary>
    public long LogicalBlocks { get; init; }

    /// <summary>
    /// Why the pool is in read-only mode (it refuses writes until <c>dvdo check --repair</c>), or
    /// null. Kept in bytes that format version 1 always wrote as zeros, so older pools read as
    /// "not read-only" (docs/storage.md).
    /// </summary>
    public string? ReadOnlyReason { get; init; }

    /// <summary>Longest read-only reason kept, in UTF-8 bytes (a longer one is cut at a character boundary).</summary>
    public const int MaxReasonBytes = 1024;

    private const int ReadOnlyFlag = 10;
    private const int ReasonOffset = 256;

    /// <summary>Counters kept across opens (see <see cref="PersistentCounters"/>).</summary>
    public PersistentCounters Counters { get; init; } = new();

    /// <summary>Block of the copy this sequence is written to.</summary>
    public long Location => Geometry.SuperBlockStart + (long)(Sequence % 2);

    /// <summary>Encodes into a sealed metadata block (index = copy number).</summary>
    public void Encode(Span<byte> block, ulong nonce)
    {
        block.Clear();
        var p = MetadataBlock.Payload(block);
        BinaryPrimitives.WriteUInt64LittleEndian(p, Sequence);
        p[8] = (byte)(Clean ? 1 : 0);
        p[9] = (byte)(IndexSaved ? 1 : 0);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], JournalReplayFrom);
        BinaryPrimitives.WriteInt64LittleEndian(p[24..], LogicalBlocksUsed);
        BinaryPrimitives.WriteInt64LittleEndian(p[32..], LogicalBlocks);
        Counters.Encode(p[64..]);
        if (ReadOnlyReason is not null)
        {
            p[ReadOnlyFlag] = 1;
            var reason = EncodeReason(ReadOnlyReason);
            BinaryPrimitives.WriteUInt16LittleEndian(p[ReasonOffset..], (ushort)reason.Length);
            reason.CopyTo(p[(ReasonOffset + 2)..]);
        }
        MetadataBlock.Seal(block, MetadataKind.SuperBlock, nonce, (long)(Sequence % 2));
    }

    /// <summary>Reads both copies and returns the newest valid one.</summary>
    public static SuperBlock Read(IBlockDevice device, ulong nonce)
    {
        Span<byte> block = stackalloc byte[VdoConstants.BlockSize];
        SuperBlock? best = null;
        var problems = new List<string>();
        for (var copy = 0; copy < 2; copy++)
        {
            device.Read(Geometry.SuperBlockStart + copy, block);
            var problem = MetadataBlock.Validate(block, MetadataKind.SuperBlock, nonce, copy);
            if (problem is not null)
            {
                problems.Add($"copy {copy}: {problem}");
                continue;
            }
            var p = MetadataBlock.Payload(block);
            var s = new SuperBlock
            {
                Sequence = BinaryPrimitives.ReadUInt64LittleEndian(p),
                Clean = p[8] == 1,
                IndexSaved = p[9] == 1,
                JournalReplayFrom = BinaryPrimitives.ReadUInt64LittleEndian(p[16..]),
                LogicalBlocksUsed = BinaryPrimitives.ReadInt64LittleEndian(p[24..]),
                LogicalBlocks = BinaryPrimitives.ReadInt64LittleEndian(p[32..]),
                Counters = PersistentCounters.Decode(p[64..]),
                ReadOnlyReason = DecodeReason(p),
            };
            if (p[ReadOnlyFlag] > 1 || (p[ReadOnlyFlag] == 0 && s.ReadOnlyReason is not null))
            {
                problems.Add($"copy {copy}: read-only flag {p[ReadOnlyFlag]} is impossible");
                continue;
            }
            if (s.Sequence % 2 != (ulong)copy)
            {
                problems.Add($"copy {copy}: sequence {s.Sequence} stored in the wrong copy");
                continue;
            }
            if (best is null || s.Sequence > best.Sequence)
                best = s;
        }
        return best ?? throw new CorruptMetadataException("superblock (blocks 1 and 2)", string.Join("; ", problems));
    }

    private static byte[] EncodeReason(string reason)
    {
        var bytes = Encoding.UTF8.GetBytes(reason);
        if (bytes.Length <= MaxReasonBytes)
            return bytes;
        var cut = MaxReasonBytes;
        while (cut > 0 && (bytes[cut] & 0xC0) == 0x80)
            cut--; // never split a character
        return bytes[..cut];
    }

    // Null when the flag is clear and the reason area is empty; a flagged pool with no readable
    // reason still reads as read-only.
    private static string? DecodeReason(ReadOnlySpan<byte> p)
    {
        var length = BinaryPrimitives.ReadUInt16LittleEndian(p[ReasonOffset..]);
        if (p[ReadOnlyFlag] == 0)
            return length == 0 ? null : "";
        if (length > MaxReasonBytes)
            return "(reason not readable)";
        var reason = Encoding.UTF8.GetString(p.Slice(ReasonOffset + 2, length));
        return reason.Length == 0 ? "(no reason recorded)" : reason;
    }
}
