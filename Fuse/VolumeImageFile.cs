using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Fuse;

/// <summary>
/// An image of a pool as a FUSE file: byte offsets map to the LBNs of the image's extent. Reads
/// and writes take any offset and length; a partial 4 KiB block is read, patched and written back
/// (read-modify-write). A request with a partial block holds the image's gate exclusively so
/// that two writers patching the same block cannot lose each other's bytes, and so that a
/// full-block write is never undone by an older read-modify-write; requests of whole blocks only
/// share the gate, so they run in parallel where the scheme does (the volume's logical locks
/// order writes to the same block). Backup images are read-only (EROFS).
/// </summary>
public sealed class VolumeImageFile : IImageFile
{
    private const int BlockSize = VdoConstants.BlockSize;
    private const int Erofs = 30;

    private readonly Volume _volume;
    private readonly ReaderWriterLockSlim _gate = new(LockRecursionPolicy.NoRecursion);

    /// <summary>The file for <paramref name="entry"/> of <paramref name="volume"/>.</summary>
    public VolumeImageFile(Volume volume, ImageEntry entry)
    {
        _volume = volume;
        Entry = entry;
    }

    /// <summary>The catalog record this file serves.</summary>
    public ImageEntry Entry { get; }

    /// <inheritdoc />
    public string Name => Entry.Name;

    /// <inheritdoc />
    public long Size => Entry.SizeBytes;

    /// <inheritdoc />
    public bool ReadOnly => Entry.ReadOnly;

    /// <inheritdoc />
    public int Read(long offset, Span<byte> destination)
    {
        if (offset >= Size)
            return 0;
        var length = (int)Math.Min(destination.Length, Size - offset);
        // Only a partial block needs the scratch block (stackalloc zeroes it on every call).
        Span<byte> scratch = offset % BlockSize == 0 && length % BlockSize == 0 ? default : stackalloc byte[BlockSize];
        var done = 0;
        while (done < length)
        {
            var position = offset + done;
            var within = (int)(position % BlockSize);
            var n = Math.Min(BlockSize - within, length - done);
            var lbn = Entry.FirstLbn + (position / BlockSize);
            if (n == BlockSize)
            {
                var whole = (length - done) / BlockSize * BlockSize;
                _volume.ReadBlocks(lbn, destination.Slice(done, whole));
                n = whole;
            }
            else
            {
                _volume.Read(lbn, scratch);
                scratch.Slice(within, n).CopyTo(destination[done..]);
            }
            done += n;
        }
        return length;
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        CheckWrite(offset, source.Length);
        var aligned = offset % BlockSize == 0 && source.Length % BlockSize == 0;
        // Only a partial block needs the scratch block (stackalloc zeroes it on every call).
        Span<byte> scratch = aligned ? default : stackalloc byte[BlockSize];
        if (aligned)
            _gate.EnterReadLock();
        else
            _gate.EnterWriteLock();
        {
            try
            {
                var done = 0;
                while (done < source.Length)
                {
                    var position = offset + done;
                    var within = (int)(position % BlockSize);
                    var n = Math.Min(BlockSize - within, source.Length - done);
                    var lbn = Entry.FirstLbn + (position / BlockSize);
                    if (n == BlockSize)
                    {
                        // Every whole block from here on goes in one call (one volume lock acquisition).
                        var whole = (source.Length - done) / BlockSize * BlockSize;
                        _volume.WriteBlocks(lbn, source.Slice(done, whole));
                        n = whole;
                    }
                    else
                    {
                        _volume.Read(lbn, scratch);
                        source.Slice(done, n).CopyTo(scratch[within..]);
                        _volume.Write(lbn, scratch);
                    }
                    done += n;
                }
            }
            catch (Exception e) when (Translate(e) is { } translated)
            {
                throw translated;
            }
            finally
            {
                if (aligned)
                    _gate.ExitReadLock();
                else
                    _gate.ExitWriteLock();
            }
        }
    }

    /// <inheritdoc />
    public void Flush() => _volume.Flush();

    /// <inheritdoc />
    public void Discard(long offset, long length) => Zero(offset, length);

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length) => Zero(offset, length);

    /// <summary>Whole blocks are discarded (they read as zeros and free their space); partial edges are zeroed in place.</summary>
    private void Zero(long offset, long length)
    {
        length = Math.Min(length, Size - offset);
        CheckWrite(offset, length);
        if (length <= 0)
            return;
        Span<byte> scratch = stackalloc byte[BlockSize];
        _gate.EnterWriteLock();
        {
            try
            {
                var end = offset + length;
                var firstWhole = (offset + BlockSize - 1) / BlockSize;
                var endWhole = end / BlockSize;
                if (firstWhole >= endWhole)
                {
                    // Inside one block, or across one boundary without a whole block.
                    ZeroPartial(offset, Math.Min(end, ((offset / BlockSize) + 1) * BlockSize), scratch);
                    if (end > ((offset / BlockSize) + 1) * BlockSize)
                        ZeroPartial(((offset / BlockSize) + 1) * BlockSize, end, scratch);
                    return;
                }
                if (offset % BlockSize != 0)
                    ZeroPartial(offset, firstWhole * BlockSize, scratch);
                _volume.Discard(Entry.FirstLbn + firstWhole, endWhole - firstWhole);
                if (end % BlockSize != 0)
                    ZeroPartial(endWhole * BlockSize, end, scratch);
            }
            catch (Exception e) when (Translate(e) is { } translated)
            {
                throw translated;
            }
            finally
            {
                _gate.ExitWriteLock();
            }
        }
    }

    private void ZeroPartial(long from, long to, Span<byte> scratch)
    {
        if (to <= from)
            return;
        var lbn = Entry.FirstLbn + (from / BlockSize);
        _volume.Read(lbn, scratch);
        scratch.Slice((int)(from % BlockSize), (int)(to - from)).Clear();
        _volume.Write(lbn, scratch);
    }

    private void CheckWrite(long offset, long length)
    {
        if (ReadOnly)
            throw new IOException($"image '{Name}' is a read-only backup image", Erofs);
        if (offset < 0 || length < 0 || offset + length > Size)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{length} bytes at {offset} are outside image '{Name}' ({Size} bytes)");
    }

    /// <summary>Pool full → ENOSPC; a volume that went read-only after damage → EROFS; everything else stays (EIO).</summary>
    private static Exception? Translate(Exception e) => e switch
    {
        OutOfSpaceException => new NoSpaceException(e.Message, e),
        ReadOnlyVolumeException => new IOException(e.Message, Erofs),
        _ => null,
    };
}
