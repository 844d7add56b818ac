namespace DataflowVdo.Workloads;

/// <summary>
/// Logical block numbers for a run, over a working set of <see cref="WorkingSetBlocks"/>
/// (docs/workloads.md: 262,144 blocks, 1 GiB). The first pass touches every LBN of the working set
/// exactly once, so it runs over an empty pool and can be reported apart; after it come the
/// steady-state overwrites. Random order: the first pass is a seeded shuffle, then LBNs are
/// uniform with replacement. Sequential order: 0, 1, 2, … wrapping at the working set.
/// Deterministic from the seed, and independent of the block stream of the same seed.
/// Not thread-safe.
/// </summary>
public sealed class AddressGenerator
{
    /// <summary>1 GiB of 4 KiB blocks.</summary>
    public const int DefaultWorkingSetBlocks = 262_144;

    private readonly Xoshiro256 _rng;
    private readonly int[]? _firstPass;
    private long _issued;

    /// <summary>Creates a generator.</summary>
    /// <param name="seed">The run's seed (the same one given to <see cref="BlockGenerator"/>).</param>
    /// <param name="workingSetBlocks">LBNs are in [0, workingSetBlocks).</param>
    /// <param name="sequential">Sequential instead of random order.</param>
    public AddressGenerator(long seed, int workingSetBlocks = DefaultWorkingSetBlocks, bool sequential = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workingSetBlocks, 1);
        WorkingSetBlocks = workingSetBlocks;
        Sequential = sequential;
        _rng = new Xoshiro256(Xoshiro256.DeriveSeed(seed, stream: 1));
        if (!sequential)
        {
            _firstPass = new int[workingSetBlocks];
            for (int i = 0; i < workingSetBlocks; i++)
            {
                _firstPass[i] = i;
            }

            for (int i = workingSetBlocks - 1; i > 0; i--)
            {
                int j = (int)_rng.NextInt64(i + 1);
                (_firstPass[i], _firstPass[j]) = (_firstPass[j], _firstPass[i]);
            }
        }
    }

    public int WorkingSetBlocks { get; }

    public bool Sequential { get; }

    /// <summary>Addresses handed out so far.</summary>
    public long Issued => _issued;

    /// <summary>True while the next address is still part of the first pass (never written before).</summary>
    public bool InFirstPass => _issued < WorkingSetBlocks;

    /// <summary>The next logical block number.</summary>
    public long Next()
    {
        long n = _issued++;
        if (Sequential)
        {
            return n % WorkingSetBlocks;
        }

        return n < WorkingSetBlocks ? _firstPass![n] : _rng.NextInt64(WorkingSetBlocks);
    }
}
