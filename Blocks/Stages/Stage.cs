namespace DataflowVdo.Blocks.Stages;

/// <summary>
/// A step of a request, as the stage table (<see cref="StageTable"/>) names it: each runs in one
/// zone kind and returns the stage that follows. <see cref="Parked"/> and <see cref="Done"/> are
/// not steps: a lock's waiter list, the packer or the journal holds the request, or it is finished.
/// </summary>
public enum Stage
{
    /// <summary>Zero check and block name (hash pool).</summary>
    Name,

    /// <summary>Logical lock and block-map lookup (logical zone).</summary>
    Lookup,

    /// <summary>Installs a newly allocated block-map page (logical zone).</summary>
    InstallPage,

    /// <summary>Block-map update, logical lock released (logical zone).</summary>
    Update,

    /// <summary>A read's logical lock and lookup (logical zone).</summary>
    ReadBlock,

    /// <summary>A read's data read and decompression (read pool).</summary>
    ReadData,

    /// <summary>A read releases its logical lock (logical zone).</summary>
    ReadDone,

    /// <summary>Unwinding: a failed request gives back its logical lock (logical zone).</summary>
    AbortLogical,

    /// <summary>Hash lock and dedupe-index query (hash zone).</summary>
    HashLock,

    /// <summary>Dedupe-index update, hash lock released, waiters sent on (hash zone).</summary>
    IndexUpdate,

    /// <summary>Unwinding: a failed request gives back its hash lock (hash zone).</summary>
    AbortHash,

    /// <summary>Unwinding: a failed request gives back its pin (physical zone of the candidate).</summary>
    AbortPin,

    /// <summary>Unwinding: a request whose own data write failed gives back its unused block (physical zone of the block).</summary>
    AbortAllocation,

    /// <summary>Allocates a block-map page (physical zone).</summary>
    AllocatePage,

    /// <summary>Pins the dedupe candidate (physical zone of the candidate).</summary>
    Pin,

    /// <summary>Allocates a data block (physical zone of the allocation).</summary>
    Allocate,

    /// <summary>The candidate did not match: unpin it, allocate instead (physical zone of the candidate).</summary>
    UnpinAllocate,

    /// <summary>A packed fragment gives back its own provisional block (physical zone of that block).</summary>
    ReleaseMember,

    /// <summary>The first fragment of a packed block reserves it for the others (physical zone of the packed block).</summary>
    ReservePacked,

    /// <summary>An unchanged mapping gives back the reservations nobody uses (physical zone of the block).</summary>
    ReleaseUnused,

    /// <summary>Reads the pinned candidate and compares it byte for byte (verify pool).</summary>
    Verify,

    /// <summary>LZ4 compression (compress pool).</summary>
    Compress,

    /// <summary>Adds the fragment to a packer bin; writes closed bins (packer).</summary>
    Pack,

    /// <summary>The pool looked full: the packer writes every bin (packer), then the journal commits.</summary>
    SpaceRetry,

    /// <summary>Writes a data block (data-write pool).</summary>
    WriteData,

    /// <summary>Journals a new block-map page (journal).</summary>
    JournalPage,

    /// <summary>Journals the mapping change and defers its reference changes (journal).</summary>
    Journal,

    /// <summary>The journal commits (freeing blocks whose decrements waited), then allocation is tried again (journal).</summary>
    CommitRetry,

    /// <summary>Not a step: a lock's waiter list, the packer or the journal holds the request.</summary>
    Parked,

    /// <summary>Not a step: the request is finished (acknowledged, returned to the pool).</summary>
    Done,
}
