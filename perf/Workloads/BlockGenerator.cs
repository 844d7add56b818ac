namespace DataflowVdo.Workloads;

/// <summary>
/// Produces the block stream of a <see cref="WorkloadMix"/>, deterministically from a seed:
/// the same mix, seed, corpus and window give the same bytes in the same order on every
/// machine. Duplicates copy a block chosen uniformly from the last N new (random or corpus)
/// blocks; a duplicate drawn before any new block exists becomes a new block. Steady state
/// allocates nothing. Not thread-safe.
/// </summary>
public sealed class BlockGenerator
{
    /// <summary>N of docs/workloads.md: duplicates are drawn from this many most recent new blocks.</summary>
    public const int DefaultDuplicateWindow = 65_536;

    // The ring starts small and doubles up to the window, so short runs do not pay for
    // N × 4 KiB (256 MiB at the default window) they never fill.
    private const int InitialRingBlocks = 1024;

    private readonly Corpus? _corpus;
    private readonly Xoshiro256 _rng;
    private readonly int _zeroBelow;
    private readonly int _duplicateBelow;
    private readonly int _corpusBelow;
    private readonly BlockKind _firstNewKind;
    private readonly long[] _counts = new long[4];
    private byte[] _ring = [];
    private int _ringBlocks;
    private int _ringNext;

    /// <summary>Creates a generator.</summary>
    /// <param name="mix">The workload mix.</param>
    /// <param name="seed">Seeds the kind choices, the duplicate choices and the random bytes.</param>
    /// <param name="corpus">Source of corpus blocks; required when the mix has any. Its position advances.</param>
    /// <param name="duplicateWindow">N: how many recent new blocks a duplicate may copy.</param>
    public BlockGenerator(WorkloadMix mix, long seed, Corpus? corpus = null, int duplicateWindow = DefaultDuplicateWindow)
    {
        ArgumentNullException.ThrowIfNull(mix);
        ArgumentOutOfRangeException.ThrowIfLessThan(duplicateWindow, 1);
        if (mix.NeedsCorpus && corpus is null)
        {
            throw new ArgumentException($"Workload '{mix.Name}' has corpus blocks, so it needs a corpus.", nameof(corpus));
        }

        Mix = mix;
        Seed = seed;
        DuplicateWindow = duplicateWindow;
        _corpus = corpus;
        _rng = new Xoshiro256(seed);
        _zeroBelow = mix.ZeroPercent;
        _duplicateBelow = _zeroBelow + mix.DuplicatePercent;
        _corpusBelow = _duplicateBelow + mix.CorpusPercent;
        _firstNewKind = mix.CorpusPercent > 0 ? BlockKind.Corpus : BlockKind.Random;
    }

    public WorkloadMix Mix { get; }

    public long Seed { get; }

    public int DuplicateWindow { get; }

    /// <summary>The corpus this generator reads, if any.</summary>
    public Corpus? Corpus => _corpus;

    /// <summary>Blocks generated so far.</summary>
    public long Generated => _counts[0] + _counts[1] + _counts[2] + _counts[3];

    /// <summary>Blocks of <paramref name="kind"/> generated so far.</summary>
    public long CountOf(BlockKind kind) => _counts[(int)kind];

    /// <summary>Fills <paramref name="block"/> (exactly 4096 bytes) with the next block of the stream.</summary>
    public void Next(Span<byte> block, out BlockKind kind)
    {
        if (block.Length != BlockBytes.Size)
        {
            ThrowHelper.WrongBlockSize(nameof(block), block.Length);
        }

        int roll = (int)_rng.NextInt64(100);
        kind = roll < _zeroBelow ? BlockKind.Zero
            : roll < _duplicateBelow ? BlockKind.Duplicate
            : roll < _corpusBelow ? BlockKind.Corpus
            : BlockKind.Random;

        if (kind == BlockKind.Duplicate && _ringBlocks == 0)
        {
            kind = _firstNewKind;
        }

        switch (kind)
        {
            case BlockKind.Zero:
                block.Clear();
                break;
            case BlockKind.Duplicate:
                // Offset 0 is the newest block, _ringBlocks - 1 the oldest still in the window.
                int back = (int)_rng.NextInt64(_ringBlocks);
                int slot = (_ringNext - 1 - back + _ringBlocks) % _ringBlocks;
                _ring.AsSpan(slot * BlockBytes.Size, BlockBytes.Size).CopyTo(block);
                break;
            case BlockKind.Corpus:
                _corpus!.Read(block);
                Remember(block);
                break;
            default:
                _rng.Fill(block);
                Remember(block);
                break;
        }

        _counts[(int)kind]++;
    }

    private void Remember(ReadOnlySpan<byte> block)
    {
        if (Mix.DuplicatePercent == 0)
        {
            return; // nothing will ever copy it
        }

        if (_ringNext * BlockBytes.Size == _ring.Length && _ringBlocks < DuplicateWindow)
        {
            // Still filling: the ring is in insertion order, so growing keeps every slot where it is.
            int blocks = Math.Min(DuplicateWindow, Math.Max(InitialRingBlocks, _ringBlocks * 2));
            Array.Resize(ref _ring, blocks * BlockBytes.Size);
        }

        block.CopyTo(_ring.AsSpan(_ringNext * BlockBytes.Size, BlockBytes.Size));
        _ringNext = (_ringNext + 1) % DuplicateWindow;
        _ringBlocks = Math.Min(_ringBlocks + 1, DuplicateWindow);
    }
}
