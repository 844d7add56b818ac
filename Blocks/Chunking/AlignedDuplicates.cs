using System.IO.Hashing;

namespace DataflowVdo.Blocks.Chunking;

/// <summary>
/// The <c>hybrid</c> alignment's detector: it fingerprints each chunk and the 4 KiB blocks of the
/// stream that lie on its 4 KiB boundaries (XxHash3; zeros and short-pattern fills, which repeat at any alignment, left out) and remembers the last
/// <see cref="Remembered"/> of each. An aligned block that repeats an earlier one inside a chunk
/// that does not (content-defined chunks would miss it) is evidence that the stream carries
/// duplicates at 4 KiB alignment — VM images, block-level copies. When enough of the recent
/// aligned blocks are (<see cref="PreferAligned"/>, <see cref="Enter"/>), the ingest snaps its content-defined cuts to
/// 4 KiB boundaries of the stream (<see cref="Snap"/>) so that those blocks land whole in image
/// blocks and dedupe as with <c>fixed</c>; otherwise the cuts stay where the content puts them
/// (shift tolerance: tar streams, whose repeated files repeat whole chunks). Memory is bounded:
/// about 40 bytes per remembered fingerprint (20 MiB).
/// </summary>
public sealed class AlignedDuplicates
{
    /// <summary>Aligned blocks remembered (1 GiB of stream).</summary>
    public const int Remembered = 1 << 18;

    /// <summary>Recent aligned blocks the decision looks at.</summary>
    public const int Window = 64;

    /// <summary>Repeats among the last <see cref="Window"/> aligned blocks from which cuts are snapped (a quarter).</summary>
    public const int Enter = 24;

    /// <summary>Repeats among the last <see cref="Window"/> aligned blocks at or below which cuts are content-defined again.</summary>
    public const int Leave = 2;

    private const int B = 4096;
    private readonly Fingerprints _blocks = new();
    private readonly Fingerprints _chunks = new();
    private readonly bool[] _recent = new bool[Window];
    private int _recentNext;
    private int _recentRepeats;
    private readonly byte[] _carry = new byte[B]; // the start of the aligned block the last chunk ended in
    private int _carried;

    /// <summary>True when cuts should be snapped to 4 KiB boundaries of the stream.</summary>
    public bool PreferAligned { get; private set; }

    /// <summary>Aligned blocks seen so far that repeated an earlier one outside a repeated chunk.</summary>
    public long Repeats { get; private set; }

    /// <summary>
    /// Looks at the aligned blocks of <paramref name="chunk"/>, the next chunk of the stream (chunks
    /// in stream order from offset 0; a block across two chunks is looked at with the second).
    /// </summary>
    public void Observe(ReadOnlySpan<byte> chunk)
    {
        var chunkRepeats = chunk.Length >= B && _chunks.Repeats(XxHash3.HashToUInt64(chunk));
        var data = chunk;
        if (_carried > 0)
        {
            var n = Math.Min(B - _carried, data.Length);
            data[..n].CopyTo(_carry.AsSpan(_carried));
            _carried += n;
            data = data[n..];
            if (_carried < B)
                return;
            Consider(_carry, chunkRepeats);
            _carried = 0;
        }
        for (; data.Length >= B; data = data[B..])
            Consider(data[..B], chunkRepeats);
        data.CopyTo(_carry);
        _carried = data.Length;
        // Hysteresis: a stream that only now and then repeats an aligned block (a tar stream
        // holding a few copies of a file at the same 4 KiB phase) keeps its content-defined cuts.
        PreferAligned = PreferAligned ? _recentRepeats > Leave : _recentRepeats >= Enter;
    }

    private void Consider(ReadOnlySpan<byte> block, bool inRepeatedChunk)
    {
        if (block[8..].SequenceEqual(block[..^8]))
            return; // zeros, and fills of a short pattern: they repeat at any alignment
        var repeat = _blocks.Repeats(XxHash3.HashToUInt64(block)) && !inRepeatedChunk;
        if (repeat)
            Repeats++;
        _recentRepeats += (repeat ? 1 : 0) - (_recent[_recentNext] ? 1 : 0);
        _recent[_recentNext] = repeat;
        _recentNext = (_recentNext + 1) % Window;
    }

    /// <summary>
    /// The cut <paramref name="cut"/> of the chunk at stream offset <paramref name="start"/>
    /// moved to a 4 KiB boundary of the stream: down to the last one at least
    /// <see cref="ChunkerParameters.MinBytes"/> into the chunk, else up to the next one if that is
    /// at least the minimum, within <paramref name="available"/> bytes and the maximum; unchanged at the end of the stream
    /// (<paramref name="final"/> and <paramref name="cut"/> == <paramref name="available"/>) or
    /// when no boundary fits.
    /// </summary>
    public static int Snap(long start, int cut, int available, bool final, ChunkerParameters parameters)
    {
        if (final && cut == available)
            return cut;
        var end = start + cut;
        var down = end / B * B;
        if (down - start >= parameters.MinBytes)
            return (int)(down - start);
        var up = down + B;
        return up - start >= parameters.MinBytes && up - start <= available && up - start <= parameters.MaxBytes ? (int)(up - start) : cut;
    }

    /// <summary>The last <see cref="Remembered"/> distinct fingerprints.</summary>
    private sealed class Fingerprints
    {
        private readonly ulong[] _ring = new ulong[Remembered];
        private readonly HashSet<ulong> _seen = new(Remembered);
        private int _next;
        private int _count;

        /// <summary>True when <paramref name="fingerprint"/> was seen before; else remembers it (forgetting the oldest).</summary>
        public bool Repeats(ulong fingerprint)
        {
            if (!_seen.Add(fingerprint))
                return true;
            if (_count == Remembered)
                _seen.Remove(_ring[_next]);
            else
                _count++;
            _ring[_next] = fingerprint;
            _next = (_next + 1) % Remembered;
            return false;
        }
    }
}
