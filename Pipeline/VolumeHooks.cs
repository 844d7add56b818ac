using DataflowVdo.Blocks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DataflowVdo.Pipeline;

/// <summary>Test seams: replaceable parts that production code never changes (except the logger).</summary>
public sealed class VolumeHooks
{
    /// <summary>Where the volume logs failures and mode changes (read-only mode, failed data writes); default nowhere.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>The block namer (default XxHash128); tests inject a colliding one to prove I4.</summary>
    public BlockNamer Namer { get; init; } = BlockNamers.XxHash128Namer;

    /// <summary>Block-map cache size in pages instead of <c>Volume:BlockMapCacheMb</c>; tests make it tiny to force evictions.</summary>
    public int? BlockMapCachePages { get; init; }

    /// <summary>
    /// Called with the LBN on the request's own thread just after its journal entry is appended,
    /// holding no zone lock (StructureLocking only): tests delay requests there to widen the
    /// window between append and block-map update that checkpoints must respect.
    /// </summary>
    public Action<long>? AfterJournalAppend { get; init; }
}
