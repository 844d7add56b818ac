using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace DataflowVdo.Blocks.Stages;

/// <summary>
/// The write path as data: every stage, the zone kind that runs it, and the stages it may return,
/// each with the label of that transition. The drivers check every transition they make against
/// it (when <see cref="Checking"/>) and count it by edge; <c>dvdo graph</c> draws it. A transition
/// that is not here is a bug in the step or in the table, never a drawing that lies.
/// </summary>
public static class StageTable
{
    private const string Steps = "Pipeline/ZonedScheduler.Steps.cs";
    private const TransitionKind Rare = TransitionKind.Rare;
    private const TransitionKind Unwind = TransitionKind.Unwind;

    /// <summary>The AppContext switch that makes every driver check each transition (tests turn it on; Debug builds have it on).</summary>
    public const string CheckSwitch = "DataflowVdo.CheckTransitions";

    private static readonly StageInfo[] Rows =
    [
        new(Stage.Name, ZoneKind.Hash, "Blocks/HashStep.cs Run", StageNeeds.None, [new(Stage.Lookup, "named")]),
        new(Stage.Lookup, ZoneKind.Logical, $"{Steps} Lookup", StageNeeds.None,
        [
            new(Stage.AllocatePage, "no page yet: allocate it"),
            new(Stage.Update, "discard, never written"),
            new(Stage.Journal, "zero, discard"),
            new(Stage.HashLock, "hash lock"),
            new(Stage.Allocate, "allocate (no dedupe)", Unless: StageNeeds.Dedupe),
        ]),
        new(Stage.InstallPage, ZoneKind.Logical, $"{Steps} InstallPage", StageNeeds.None, [new(Stage.Lookup, "look up again")]),
        new(Stage.Update, ZoneKind.Logical, $"{Steps} Update", StageNeeds.None, [new(Stage.Done, "mapped")]),
        new(Stage.ReadBlock, ZoneKind.Logical, $"{Steps} ReadBlock", StageNeeds.None,
        [
            new(Stage.Done, "unmapped, zero, or served in flight"),
            new(Stage.ReadData, "read"),
        ]),
        new(Stage.ReadData, ZoneKind.Read, $"{Steps} ReadData", StageNeeds.None, [new(Stage.ReadDone, "unlock")]),
        new(Stage.ReadDone, ZoneKind.Logical, $"{Steps} ReleaseLogicalLock", StageNeeds.None, [new(Stage.Done, "read")]),
        new(Stage.AbortLogical, ZoneKind.Logical, $"{Steps} AbandonPage, ReleaseLogicalLock", StageNeeds.None, [new(Stage.Done, "failed", Unwind)]),
        new(Stage.HashLock, ZoneKind.HashZone, $"{Steps} HashLock", StageNeeds.Dedupe,
        [
            new(Stage.Pin, "pin candidate"),
            new(Stage.Allocate, "no candidate: allocate"),
        ]),
        new(Stage.IndexUpdate, ZoneKind.HashZone, $"{Steps} IndexUpdate", StageNeeds.Dedupe,
        [
            new(Stage.Journal, "mapping (and the waiters')"),
            new(Stage.HashLock, "waiters of a block that cannot take more sharers start over", Rare),
        ]),
        new(Stage.AbortHash, ZoneKind.HashZone, $"{Steps} AbortHash", StageNeeds.Dedupe,
        [
            new(Stage.AbortLogical, "failed: unlock", Unwind),
            new(Stage.Done, "failed", Unwind),
        ]),
        new(Stage.AbortPin, ZoneKind.Physical, $"{Steps} ReleasePin", StageNeeds.Dedupe,
        [
            new(Stage.AbortHash, "failed: unlock", Unwind),
            new(Stage.AbortLogical, "failed: unlock", Unwind),
            new(Stage.Done, "failed", Unwind),
        ]),
        new(Stage.AbortAllocation, ZoneKind.Physical, $"{Steps} Step(AbortAllocation)", StageNeeds.None,
        [
            new(Stage.AbortHash, "write failed: unlock", Unwind),
            new(Stage.AbortLogical, "write failed: unlock", Unwind),
            new(Stage.Done, "write failed", Unwind),
        ]),
        new(Stage.AllocatePage, ZoneKind.Physical, $"{Steps} Step(AllocatePage)", StageNeeds.None,
        [
            new(Stage.JournalPage, "page entry"),
            new(Stage.AllocatePage, "zone full: next zone", Rare, CrossesZones: true),
            new(Stage.SpaceRetry, "pool full: free held space", Rare),
        ]),
        new(Stage.Pin, ZoneKind.Physical, $"{Steps} Pin", StageNeeds.Dedupe,
        [
            new(Stage.Verify, "compare"),
            new(Stage.Allocate, "not pinned: allocate", Rare, CrossesZones: true), // stale, busy or full
            new(Stage.Compress, "not pinned: compress", Rare),
            new(Stage.WriteData, "not pinned: write", Rare),
            new(Stage.SpaceRetry, "pool full: free held space", Rare),
        ]),
        new(Stage.Allocate, ZoneKind.Physical, $"{Steps} Allocate", StageNeeds.None,
        [
            new(Stage.Compress, "compress"),
            new(Stage.WriteData, "write", RareWhen: StageNeeds.Compression), // with compression: once the probe skips it
            new(Stage.Allocate, "zone full: next zone", Rare, CrossesZones: true),
            new(Stage.SpaceRetry, "pool full: free held space", Rare),
        ]),
        new(Stage.UnpinAllocate, ZoneKind.Physical, $"{Steps} Step(UnpinAllocate)", StageNeeds.Dedupe,
        [
            new(Stage.Allocate, "allocate", Rare, CrossesZones: true),
            new(Stage.Compress, "compress", Rare),
            new(Stage.WriteData, "write", Rare),
            new(Stage.SpaceRetry, "pool full: free held space", Rare),
        ]),
        new(Stage.ReleaseMember, ZoneKind.Physical, $"{Steps} Step(ReleaseMember)", StageNeeds.Compression,
        [
            new(Stage.IndexUpdate, "index update"),
            new(Stage.Journal, "mapping", RareWhen: StageNeeds.Dedupe),
        ]),
        new(Stage.ReservePacked, ZoneKind.Physical, $"{Steps} ReservePacked", StageNeeds.Compression,
        [
            new(Stage.IndexUpdate, "index update"),
            new(Stage.Journal, "mapping", RareWhen: StageNeeds.Dedupe),
            new(Stage.ReleaseMember, "co-fragment: release its block", CrossesZones: true),
        ]),
        new(Stage.ReleaseUnused, ZoneKind.Physical, $"{Steps} Step(ReleaseUnused)", StageNeeds.Dedupe, [new(Stage.Update, "unchanged")]),
        new(Stage.Verify, ZoneKind.Verify, "Blocks/VerifyStep.cs Run", StageNeeds.Dedupe,
        [
            new(Stage.UnpinAllocate, "mismatch: allocate", Rare),
            new(Stage.IndexUpdate, "duplicate: index update"),
            new(Stage.Journal, "duplicate: mapping", Rare), // only when another request holds the hash lock
        ]),
        new(Stage.Compress, ZoneKind.Compress, "Blocks/CompressStep.cs Run", StageNeeds.Compression,
        [
            new(Stage.Pack, "fragment"),
            new(Stage.WriteData, "does not compress"),
        ]),
        new(Stage.Pack, ZoneKind.Packer, $"{Steps} Pack, WriteBin", StageNeeds.Compression,
        [
            new(Stage.WriteData, "not worth packing"),
            new(Stage.ReservePacked, "packed: reserve for the others"),
            new(Stage.IndexUpdate, "packed: index update"),
            new(Stage.Journal, "packed: mapping", RareWhen: StageNeeds.Dedupe),
        ]),
        new(Stage.SpaceRetry, ZoneKind.Packer, $"{Steps} Step(SpaceRetry)", StageNeeds.None, [new(Stage.CommitRetry, "bins written: commit", Rare)]),
        new(Stage.WriteData, ZoneKind.DataWrite, $"{Steps} Step(WriteData)", StageNeeds.None,
        [
            new(Stage.IndexUpdate, "index update"),
            new(Stage.Journal, "mapping", RareWhen: StageNeeds.Dedupe),
        ]),
        new(Stage.JournalPage, ZoneKind.Journal, $"{Steps} JournalPage", StageNeeds.None, [new(Stage.InstallPage, "install page")]),
        new(Stage.Journal, ZoneKind.Journal, $"{Steps} Journal", StageNeeds.None,
        [
            new(Stage.Update, "block-map update"),
            new(Stage.ReleaseUnused, "unchanged: release reservations"),
        ]),
        new(Stage.CommitRetry, ZoneKind.Journal, $"{Steps} Step(CommitRetry)", StageNeeds.None, 
        [
            new(Stage.Allocate, "allocate again", Rare, CrossesZones: true),
            new(Stage.AllocatePage, "allocate the page again", Rare, CrossesZones: true),
        ]),
    ];

    /// <summary>Where a request enters, by operation: the transitions from admission.</summary>
    public static IReadOnlyList<StageTransition> Admissions { get; } =
    [
        new(Stage.Name, "write"),
        new(Stage.Lookup, "discard"),
        new(Stage.ReadBlock, "read"),
    ];

    /// <summary>Stages any step may unwind to when it fails (which one depends on what the request holds).</summary>
    public static IReadOnlyList<Stage> UnwindStages { get; } = [Stage.AbortPin, Stage.AbortAllocation, Stage.AbortHash, Stage.AbortLogical, Stage.Done];

    private static readonly StageInfo[] ByStage = Index();
    private static readonly bool[] Allowed = BuildAllowed();

    /// <summary>True when drivers check every transition they make (AppContext switch <see cref="CheckSwitch"/>, on in Debug builds).</summary>
    public static bool Checking { get; } =
#if DEBUG
        true;
#else
        AppContext.TryGetSwitch(CheckSwitch, out var on) && on;
#endif

    /// <summary>Number of stages (including <see cref="Stage.Parked"/> and <see cref="Stage.Done"/>).</summary>
    public const int Count = (int)Stage.Done + 1;

    /// <summary>Every step, in table order.</summary>
    public static IReadOnlyList<StageInfo> All => Rows;

    /// <summary>The row of <paramref name="stage"/> (not Parked or Done).</summary>
    public static StageInfo Of(Stage stage) => ByStage[(int)stage] ?? throw new ArgumentOutOfRangeException(nameof(stage), $"stage {stage} is not a step");

    /// <summary>The zone kind that runs <paramref name="stage"/>.</summary>
    public static ZoneKind ZoneOf(Stage stage) => Of(stage).Zone;

    /// <summary>
    /// True when <paramref name="from"/> may be followed by <paramref name="to"/>: a transition of
    /// the table, any step's unwinding, parking, or running the same stage again (a resent waiter).
    /// </summary>
    public static bool Allows(Stage from, Stage to) => Allowed[((int)from * Count) + (int)to];

    /// <summary>
    /// Checks a transition a driver makes (only when <see cref="Checking"/>): throws, naming both
    /// stages, when the table does not have it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Check(Stage from, Stage to)
    {
        if (Checking && !Allows(from, to))
            ThrowNotInTable(from, to); // outside tests and Debug builds the whole check folds away
    }

    [DoesNotReturn]
    private static void ThrowNotInTable(Stage from, Stage to) =>
        throw new InvalidOperationException($"stage {from} returned {to}, which the stage table (Blocks/Stages/StageTable.cs) does not have: the step or the table is wrong");

    /// <summary>True when the stage exists with dedupe and compression as given.</summary>
    public static bool Present(Stage stage, bool dedupe, bool compression)
    {
        var needs = Of(stage).Needs;
        return (dedupe || !needs.HasFlag(StageNeeds.Dedupe)) && (compression || !needs.HasFlag(StageNeeds.Compression));
    }

    private static StageInfo[] Index()
    {
        var by = new StageInfo[Count];
        foreach (var row in Rows)
        {
            if (by[(int)row.Stage] is not null)
                throw new InvalidOperationException($"stage {row.Stage} is in the table twice");
            by[(int)row.Stage] = row;
        }
        for (var s = 0; s < (int)Stage.Parked; s++)
        {
            if (by[s] is null)
                throw new InvalidOperationException($"stage {(Stage)s} is missing from the table");
        }
        return by;
    }

    private static bool[] BuildAllowed()
    {
        var allowed = new bool[Count * Count];
        foreach (var row in Rows)
        {
            var from = (int)row.Stage * Count;
            allowed[from + (int)row.Stage] = true; // resent in the same stage (a lock or page waiter)
            allowed[from + (int)Stage.Parked] = true;
            foreach (var t in row.Next)
                allowed[from + (int)t.To] = true;
            foreach (var u in UnwindStages)
                allowed[from + (int)u] = true;
        }
        return allowed;
    }
}
