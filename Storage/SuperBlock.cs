using System.Buffers.Binary;

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
            };
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
}
