using DataflowVdo.Storage;

namespace DataflowVdo.Blocks;

/// <summary>
/// The request object for one 4 KiB read, write or discard (VDO's data_vio). Drawn from a
/// bounded pool and reused: its buffers are allocated once, pinned, so the hot path allocates
/// nothing per block. Each step reads and fills the fields it owns.
/// </summary>
public sealed class DataVio
{
    /// <summary>The block's data (written data, or the read result).</summary>
    public byte[] Data { get; } = GC.AllocateArray<byte>(VdoConstants.BlockSize, pinned: true);

    private unsafe byte* _readTarget;

    /// <summary>
    /// Where a read puts its block: the caller's 4 KiB while <see cref="SetReadTarget"/> names one
    /// (read, decompressed and verified in place, no copy out of <see cref="Data"/>), else <see cref="Data"/>.
    /// </summary>
    public unsafe Span<byte> ReadBuffer => _readTarget is null ? Data : new Span<byte>(_readTarget, VdoConstants.BlockSize);

    /// <summary>
    /// Names the caller's buffer a read fills (<see cref="ReadBuffer"/>), or none (null). The caller
    /// keeps those 4 KiB pinned until the read completes and clears the target before the request
    /// is reused.
    /// </summary>
    public unsafe void SetReadTarget(byte* target) => _readTarget = target;

    /// <summary>The LZ4 fragment when the block compresses.</summary>
    public byte[] Fragment { get; } = GC.AllocateArray<byte>(VdoConstants.BlockSize, pinned: true);

    /// <summary>Scratch space for verify reads and packed-block reads.</summary>
    public byte[] Scratch { get; } = GC.AllocateArray<byte>(VdoConstants.BlockSize, pinned: true);

    /// <summary>The packer bin holding this write's fragment, while it waits there.</summary>
    public PackerBin? Bin { get; set; }

    /// <summary>Operation.</summary>
    public VioOperation Operation { get; set; }

    /// <summary>Logical block number.</summary>
    public long Lbn { get; set; }

    /// <summary>True when <see cref="Data"/> is all zeros (no hash, no allocation, no data write).</summary>
    public bool IsZero { get; set; }

    /// <summary>XxHash128 of <see cref="Data"/> (the block name).</summary>
    public UInt128 Name
    {
        get => new(_nameHigh, _nameLow);
        set
        {
            _nameLow = (ulong)value;
            _nameHigh = (ulong)(value >> 64);
        }
    }

    /// <summary>The high 64 bits of <see cref="Name"/> (routing by hash zone without a UInt128 crossing a call; see the note on its fields).</summary>
    public ulong NameHigh => _nameHigh;

    // Two halves, not a UInt128 field: crossgen2 calls the layout of a class holding a UInt128
    // field ABI-unstable and then precompiles no method with a DataVio in its signature, so every
    // dvdo command JIT-compiled the whole pipeline (every step and driver method) at start.
    private ulong _nameLow;
    private ulong _nameHigh;

    /// <summary>Mapping before this write (from the block map).</summary>
    public BlockMapping OldMapping { get; set; }

    /// <summary>Mapping this write installs.</summary>
    public BlockMapping NewMapping { get; set; }

    /// <summary>Provisional physical block held by this write, 0 when none.</summary>
    public long Allocation { get; set; }

    /// <summary>Dedupe hint from the index.</summary>
    public BlockMapping Candidate { get; set; }

    /// <summary>True while this write holds a pin on <see cref="Candidate"/> (see <c>SlabDepot.TryPin</c>).</summary>
    public bool Pinned { get; set; }

    /// <summary>True when the index gave a hint.</summary>
    public bool HasCandidate { get; set; }

    /// <summary>Compressed size, 0 when the block does not compress well enough to pack.</summary>
    public int FragmentSize { get; set; }

    /// <summary>Journal point of this write's entry.</summary>
    public long JournalPoint { get; set; }

    /// <summary>The hash-lock holder this write waits on (identical data in flight), if any.</summary>
    public DataVio? Agent { get; set; }

    /// <summary>Writes with identical data waiting on this one (hash-lock waiters).</summary>
    public List<DataVio> Waiters { get; } = new(4);

    /// <summary>Where the request is in the message-passing graph (the step it runs next).</summary>
    public int Stage { get; set; }

    /// <summary>Who is told when the request is acknowledged (message-passing scheme), or null.</summary>
    public IVioCompletion? Completion { get; set; }

    /// <summary>True once the caller was told (a packed write is acknowledged before it is written).</summary>
    public bool Acknowledged { get; set; }

    /// <summary>The error that ended the request, if any.</summary>
    public Exception? Error { get; set; }

    /// <summary>Flush generation the request was admitted in, and whether it still counts there.</summary>
    public int Epoch { get; set; }

    /// <summary>True until the request's journal entry is appended (or it needs none): a flush waits for it.</summary>
    public bool EpochOpen { get; set; }

    /// <summary>Next request waiting for this one's logical lock (same LBN), and the last of that chain.</summary>
    public DataVio? NextLogicalWaiter { get; set; }

    /// <summary>Last request in this holder's chain of logical-lock waiters.</summary>
    public DataVio? LastLogicalWaiter { get; set; }

    /// <summary>True while this request holds its LBN's logical lock.</summary>
    public bool HoldsLogicalLock { get; set; }

    /// <summary>True while this request is the agent of its name's hash lock.</summary>
    public bool HoldsHashLock { get; set; }

    /// <summary>A later request needs this one written now (logical-lock conflict): the packer must not hold it.</summary>
    public volatile bool Urgent;

    /// <summary>True once this request wrote the block its new mapping names (data or packed block): its group reserved it.</summary>
    public bool WroteData { get; set; }

    /// <summary>
    /// True once the request found its dedupe hint stale (the block is free, or holds other data):
    /// the hint leaves the index in the hash zone, whether or not this write then lands.
    /// </summary>
    public bool HintStale { get; set; }

    /// <summary>Times the request went round the graph to free space before giving up.</summary>
    public int SpaceRetries { get; set; }

    /// <summary>What the scheme's driver keeps with this request, if anything (the lock drivers: how it resumes, and whether its journal entry still waits for the block map).</summary>
    public IDriverState? DriverState { get; set; }

    /// <summary>The physical zone this request allocates from (chosen in turn by its logical zone; the next one when full).</summary>
    public int AllocationZone { get; set; }

    /// <summary>Physical zones tried in the current allocation attempt.</summary>
    public int ZonesTried { get; set; }

    /// <summary>For the first fragment of a packed block: the other fragments, sent on once it has reserved the block for them.</summary>
    public List<DataVio> CoFragments { get; } = new(4);

    /// <summary>True while this request allocates its LBN's block-map page (others on that page wait).</summary>
    public bool AllocatingPage { get; set; }

    /// <summary>Clears per-request state before reuse.</summary>
    public void Reset(VioOperation operation, long lbn)
    {
        Operation = operation;
        Lbn = lbn;
        IsZero = false;
        _nameLow = 0; // not Name = default: a UInt128 passed to a call keeps Reset out of the ReadyToRun image
        _nameHigh = 0;
        OldMapping = default;
        NewMapping = default;
        Allocation = 0;
        Candidate = default;
        HasCandidate = false;
        Pinned = false;
        FragmentSize = 0;
        JournalPoint = 0;
        Agent = null;
        Bin = null;
        Waiters.Clear();
        Stage = 0;
        Completion = null;
        Acknowledged = false;
        Error = null;
        EpochOpen = false;
        NextLogicalWaiter = null;
        LastLogicalWaiter = null;
        HoldsLogicalLock = false;
        HoldsHashLock = false;
        Urgent = false;
        SpaceRetries = 0;
        HintStale = false;
        WroteData = false;
        DriverState?.Reset();
        AllocationZone = 0;
        ZonesTried = 0;
        CoFragments.Clear();
        AllocatingPage = false;
    }
}
