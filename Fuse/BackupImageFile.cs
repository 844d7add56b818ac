using System.Buffers;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Fuse;

/// <summary>
/// A backup image as a FUSE file: read-only (EROFS), its length the original stream's, and its
/// bytes the stream's exactly: offsets go through the chunk map (<see cref="BackupLayout"/>) to
/// the blocks of each chunk, so the padding between chunks never shows.
/// </summary>
public sealed class BackupImageFile : IImageFile
{
    private const int BlockSize = VdoConstants.BlockSize;
    private const int Erofs = 30;

    private readonly Volume _volume;
    private readonly BackupLayout _layout;

    /// <summary>The file for backup <paramref name="entry"/>, whose manifest is <paramref name="manifest"/>.</summary>
    public BackupImageFile(Volume volume, ImageEntry entry, BackupManifest manifest)
    {
        _volume = volume;
        Entry = entry;
        _layout = new BackupLayout(manifest);
    }

    /// <summary>The catalog record this file serves.</summary>
    public ImageEntry Entry { get; }

    /// <inheritdoc />
    public string Name => Entry.Name;

    /// <inheritdoc />
    public long Size => _layout.StreamLength;

    /// <inheritdoc />
    public bool ReadOnly => true;

    /// <inheritdoc />
    public int Read(long offset, Span<byte> destination)
    {
        if (offset >= Size)
            return 0;
        var length = (int)Math.Min(destination.Length, Size - offset);
        var done = 0;
        byte[]? scratch = null;
        try
        {
            while (done < length)
            {
                var position = offset + done;
                var chunk = _layout.FindChunk(position);
                var within = position - _layout.StreamOffset(chunk);
                var n = (int)Math.Min(_layout.Length(chunk) - within, length - done);
                var firstBlock = within / BlockSize;
                var blocks = (int)(((within + n + BlockSize - 1) / BlockSize) - firstBlock);
                var lbn = Entry.FirstLbn + _layout.BlockOffset(chunk) + firstBlock;
                if (within % BlockSize == 0 && n % BlockSize == 0)
                {
                    _volume.ReadBlocks(lbn, destination.Slice(done, n));
                }
                else
                {
                    if (scratch is null || scratch.Length < blocks * BlockSize)
                    {
                        if (scratch is not null)
                            ArrayPool<byte>.Shared.Return(scratch);
                        scratch = ArrayPool<byte>.Shared.Rent(blocks * BlockSize);
                    }
                    _volume.ReadBlocks(lbn, scratch.AsSpan(0, blocks * BlockSize));
                    scratch.AsSpan((int)(within % BlockSize), n).CopyTo(destination[done..]);
                }
                done += n;
            }
        }
        finally
        {
            if (scratch is not null)
                ArrayPool<byte>.Shared.Return(scratch);
        }
        return length;
    }

    /// <inheritdoc />
    public void Write(long offset, ReadOnlySpan<byte> source) => throw ReadOnlyError();

    /// <inheritdoc />
    public void Flush()
    {
    }

    /// <inheritdoc />
    public void Discard(long offset, long length) => throw ReadOnlyError();

    /// <inheritdoc />
    public void WriteZeroes(long offset, long length) => throw ReadOnlyError();

    private IOException ReadOnlyError() => new($"image '{Name}' is a read-only backup image", Erofs);
}
