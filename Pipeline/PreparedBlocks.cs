using DataflowVdo.Blocks;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The stateless steps (zero check + hash, and optionally compress) that an inline caller runs
/// on its own blocks before it takes the volume's lock, so that callers on different cores do
/// that work in parallel and the lock is held only for the steps that touch shared structures.
/// One per calling thread, reused; it holds at most <see cref="MaxBlocks"/> blocks (I8: the
/// caller's request is prepared and written in chunks of that many).
/// </summary>
internal sealed class PreparedBlocks
{
    /// <summary>Blocks prepared (and then written under one acquisition of the lock) at a time.</summary>
    public const int MaxBlocks = 256;

    [ThreadStatic]
    private static PreparedBlocks? t_current;

    private UInt128[] _names = [];
    private bool[] _zero = [];
    private int[] _fragmentSizes = [];
    private byte[] _fragments = [];

    /// <summary>The calling thread's instance.</summary>
    public static PreparedBlocks ForThisThread() => t_current ??= new PreparedBlocks();

    /// <summary>
    /// Runs the hash step on each of the <paramref name="count"/> blocks of
    /// <paramref name="blocks"/>, and the compress step on non-zero ones: on all of them when
    /// <paramref name="compressAll"/> (speculatively: a block that turns out to be a duplicate
    /// has been compressed for nothing, but outside the lock); otherwise, when
    /// <paramref name="compression"/> is on and the <paramref name="probe"/> is skipping data
    /// that does not pack, on its one-in-<see cref="CompressionProbe.ProbeEvery"/> probes (at
    /// most that share of the blocks is compressed for nothing; under the lock those probes were
    /// a third of its time at 1 MiB writes). Every other block is left to the compress step
    /// under the lock (<see cref="NotTried"/>), after dedupe, as in dm-vdo.
    /// </summary>
    public void Prepare(HashStep hash, bool compressAll, bool compression, CompressionProbe probe, ReadOnlySpan<byte> blocks, int count)
    {
        if (count > MaxBlocks)
            throw new ArgumentOutOfRangeException(nameof(count), $"at most {MaxBlocks} blocks are prepared at a time, got {count}");
        var compressHere = compressAll || (compression && probe.Skipping);
        Grow(count, compressHere);
        Count = count;
        for (var i = 0; i < count; i++)
        {
            var block = blocks.Slice(i * VdoConstants.BlockSize, VdoConstants.BlockSize);
            _names[i] = hash.Name(block, out _zero[i]);
            _fragmentSizes[i] = _zero[i] ? 0
                : !compressHere ? NotTried
                : probe.ShouldCompress() ? CompressStep.Compress(block, _fragments.AsSpan(i * CompressStep.MaxFragment, CompressStep.MaxFragment))
                : Skipped;
        }
    }

    /// <summary>Blocks prepared by the last <see cref="Prepare"/>.</summary>
    public int Count { get; private set; }

    /// <summary>Block <paramref name="i"/>'s name.</summary>
    public UInt128 Name(int i) => _names[i];

    /// <summary>Whether block <paramref name="i"/> is all zeros.</summary>
    public bool IsZero(int i) => _zero[i];

    /// <summary>A <see cref="FragmentSize"/>: compression was skipped (<see cref="CompressionProbe"/>).</summary>
    public const int Skipped = -1;

    /// <summary>A <see cref="FragmentSize"/>: not compressed here; the compress step under the lock decides.</summary>
    public const int NotTried = -2;

    /// <summary>Block <paramref name="i"/>'s fragment size (0 = incompressible or zero, <see cref="Skipped"/>, <see cref="NotTried"/>); at least 0 means <see cref="Fragment"/> holds the result.</summary>
    public int FragmentSize(int i) => _fragmentSizes[i];

    /// <summary>Block <paramref name="i"/>'s fragment.</summary>
    public ReadOnlySpan<byte> Fragment(int i) => _fragments.AsSpan(i * CompressStep.MaxFragment, _fragmentSizes[i]);

    private void Grow(int count, bool compress)
    {
        if (_names.Length < count)
        {
            // Grows to the chunk size at once: a thread that wrote 2 blocks will likely write 64.
            var size = count == 1 ? 1 : MaxBlocks;
            _names = new UInt128[size];
            _zero = new bool[size];
            _fragmentSizes = new int[size];
        }
        if (compress && _fragments.Length < _names.Length * CompressStep.MaxFragment)
            _fragments = GC.AllocateUninitializedArray<byte>(_names.Length * CompressStep.MaxFragment);
    }
}
