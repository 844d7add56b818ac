using System.Buffers.Binary;

namespace DataflowVdo.Storage;

/// <summary>
/// Writes metadata blocks in place without the risk of a torn write (a crash tearing a 4 KiB
/// write at 512 bytes would otherwise destroy a block-map page or ref-count block that the
/// journal can no longer rebuild). Each batch is first written to the double-write area with a
/// descriptor naming the targets and the checksum of each copy, flushed, and only then written
/// in place. At open after a crash, a complete batch is copied to its targets again
/// (<see cref="Restore"/>). Every in-place metadata write goes through here, so the batch in the
/// area is always the newest version of its targets. One owner at a time.
/// </summary>
public sealed class MetadataWriter
{
    private const int EntrySize = 12; // target PBN (8) + copy checksum (4)
    private const int MaxEntries = (MetadataBlock.PayloadSize - 16) / EntrySize;
    private static readonly int Capacity = Math.Min(Geometry.DoubleWriteCopies, MaxEntries);

    private readonly IBlockDevice _device;
    private readonly Geometry _geometry;
    private readonly byte[][] _copies;
    private readonly long[] _targets;
    private readonly byte[] _descriptor = new byte[VdoConstants.BlockSize];
    private readonly List<ReadOnlyMemory<byte>> _vector = new(Geometry.DoubleWriteCopies);
    private int _count;
    private ulong _batch;
    private bool _inPlaceUnflushed;

    /// <summary>A writer for the pool laid out by <paramref name="geometry"/>.</summary>
    public MetadataWriter(IBlockDevice device, Geometry geometry)
    {
        _device = device;
        _geometry = geometry;
        _copies = new byte[Capacity][];
        for (var i = 0; i < Capacity; i++)
            _copies[i] = new byte[VdoConstants.BlockSize];
        _targets = new long[Capacity];
    }

    /// <summary>Metadata blocks written in place so far.</summary>
    public long BlocksWritten { get; private set; }

    /// <summary>Stages a sealed metadata block for <paramref name="pbn"/>; the batch goes out when full or on <see cref="Commit"/>.</summary>
    public void Write(long pbn, ReadOnlySpan<byte> sealedBlock)
    {
        lock (_lock)
            WriteLocked(pbn, sealedBlock);
    }

    // Zones that own different structures (block map, slabs, journal) share one writer.
    private readonly Lock _lock = new();

    private void WriteLocked(long pbn, ReadOnlySpan<byte> sealedBlock)
    {
        for (var i = 0; i < _count; i++)
        {
            if (_targets[i] == pbn)
            {
                sealedBlock.CopyTo(_copies[i]); // a newer version of a staged block replaces it
                return;
            }
        }
        if (_count == Capacity)
            CommitLocked();
        sealedBlock.CopyTo(_copies[_count]);
        _targets[_count++] = pbn;
    }

    /// <summary>Writes the staged batch: double-write area, flush, then in place (not yet flushed).</summary>
    public void Commit()
    {
        lock (_lock)
            CommitLocked();
    }

    /// <summary>
    /// Writes the staged batch and flushes: every in-place write so far is durable. The next
    /// batch then needs no flush before it overwrites the double-write area (a slab's ref-count
    /// write cost three flushes instead of two with <see cref="Commit"/> and a device flush).
    /// </summary>
    public void CommitDurable()
    {
        lock (_lock)
        {
            CommitLocked();
            if (!_inPlaceUnflushed)
                return;
            _device.Flush();
            _inPlaceUnflushed = false;
        }
    }

    private void CommitLocked()
    {
        if (_count == 0)
            return;
        if (_inPlaceUnflushed)
            _device.Flush(); // the previous batch must be durable in place before its copies are overwritten
        _batch++;
        Array.Clear(_descriptor);
        var payload = MetadataBlock.Payload(_descriptor.AsSpan());
        BinaryPrimitives.WriteUInt64LittleEndian(payload, _batch);
        BinaryPrimitives.WriteInt32LittleEndian(payload[8..], _count);
        _vector.Clear();
        for (var i = 0; i < _count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(payload[(16 + (i * EntrySize))..], _targets[i]);
            BinaryPrimitives.WriteUInt32LittleEndian(payload[(16 + (i * EntrySize) + 8)..], Checksums.Compute(_copies[i], default));
            _vector.Add(_copies[i]);
        }
        MetadataBlock.Seal(_descriptor, MetadataKind.DoubleWrite, _geometry.Nonce, 0);
        _device.Write(Geometry.DoubleWriteStart + 1, _vector);
        _device.Write(Geometry.DoubleWriteStart, _descriptor);
        _device.Flush();
        for (var i = 0; i < _count; i++)
            _device.Write(_targets[i], _copies[i]);
        BlocksWritten += _count;
        _inPlaceUnflushed = true;
        _count = 0;
    }

    /// <summary>
    /// After a crash: if the double-write area holds a complete batch (descriptor and every copy
    /// intact), writes it in place again, repairing any target torn by the crash. Returns the
    /// number of blocks restored (0 when the area holds nothing usable: then no in-place write of
    /// that batch had started, and the targets are intact).
    /// </summary>
    public static int Restore(IBlockDevice device, Geometry geometry)
    {
        var descriptor = new byte[VdoConstants.BlockSize];
        device.Read(Geometry.DoubleWriteStart, descriptor);
        if (MetadataBlock.Validate(descriptor, MetadataKind.DoubleWrite, geometry.Nonce, 0) is not null)
            return 0;
        var payload = MetadataBlock.Payload(descriptor.AsSpan());
        var count = BinaryPrimitives.ReadInt32LittleEndian(payload[8..]);
        if (count <= 0 || count > Capacity)
            return 0;
        var copies = new byte[count * VdoConstants.BlockSize];
        device.Read(Geometry.DoubleWriteStart + 1, copies);
        var targets = new long[count];
        for (var i = 0; i < count; i++)
        {
            targets[i] = BinaryPrimitives.ReadInt64LittleEndian(payload[(16 + (i * EntrySize))..]);
            var sum = BinaryPrimitives.ReadUInt32LittleEndian(payload[(16 + (i * EntrySize) + 8)..]);
            var copy = copies.AsSpan(i * VdoConstants.BlockSize, VdoConstants.BlockSize);
            if (Checksums.Compute(copy, default) != sum || targets[i] < geometry.JournalStart || targets[i] >= geometry.PhysicalBlocks)
                return 0; // an incomplete batch: its in-place writes never began
        }
        for (var i = 0; i < count; i++)
            device.Write(targets[i], copies.AsSpan(i * VdoConstants.BlockSize, VdoConstants.BlockSize));
        device.Flush();
        return count;
    }
}
