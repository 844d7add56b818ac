namespace DataflowVdo.Config;

/// <summary>Section <c>Pipeline</c>: the scheduler and the data-reduction steps.</summary>
public sealed class PipelineOptions
{
    /// <summary>Scheduler that runs the steps.</summary>
    public SchemeKind Scheme { get; set; } = SchemeKind.Inline;

    /// <summary>
    /// A named set of executor groupings and batching (<see cref="PipelinePreset.All"/>): its keys
    /// go over the configuration file's and under the environment and <c>--set</c>; empty = none.
    /// </summary>
    public string Preset { get; set; } = "";

    /// <summary>Deduplicate blocks (index query + verify).</summary>
    public bool Dedupe { get; set; } = true;

    /// <summary>Compress and pack blocks.</summary>
    public bool Compression { get; set; } = true;

    /// <summary>Requests (DataVios) in flight at most: the back-pressure bound (I8).</summary>
    public int RequestPoolSize { get; set; } = 2048;

    /// <summary>Open packer bins (dm-vdo uses 16). More bins pack tighter: 16 → 4.7, 64 → 4.1, 256 → 3.7 points of saving lost on "mixed".</summary>
    public int PackerBins { get; set; } = 256;

    /// <summary>Logical zones (block-map pages by page index). MessagePassing and StructureLocking.</summary>
    public int LogicalZones { get; set; } = 1;

    /// <summary>Physical zones (slabs by slab number). MessagePassing and StructureLocking.</summary>
    public int PhysicalZones { get; set; } = 1;

    /// <summary>Hash zones (block names by their first byte). MessagePassing and StructureLocking.</summary>
    public int HashZones { get; set; } = 1;

    /// <summary>StructureLocking: steps a request runs before it goes back to the thread pool's queue (fairness against batching).</summary>
    public int StepsPerRequeue { get; set; } = 64;

    /// <summary>
    /// MessagePassing: the submitting thread names each written block itself (zero check and
    /// XxHash128) and posts it straight to its logical zone, instead of handing it to the hash
    /// block (one handoff less per write; the callers' otherwise idle CPU does the hashing).
    /// StructureLocking always runs it on the caller.
    /// </summary>
    public bool HashOnSubmit { get; set; }

    /// <summary>
    /// No effect; kept so existing configuration files load. It made Inline's callers compress
    /// every block before taking the volume's lock; every scheme now compresses outside its locks,
    /// only blocks that were not deduplicated, as in dm-vdo.
    /// </summary>
    public bool CompressOnSubmit { get; set; }

    /// <summary>
    /// After this many blocks in a row whose compression was wasted (incompressible, or a
    /// fragment no recent one could share a packed block with), only one block in 16 is
    /// compressed, as a probe, until one packs again; the others are stored whole without LZ4.
    /// 0 = always compress.
    /// </summary>
    public int CompressionProbeAfter { get; set; } = 256;

    /// <summary>
    /// MessagePassing: up to this many requests bound for the same block travel in one message
    /// (the dual of <see cref="LockBatch"/>, for every request, not only one caller's): a block
    /// keeps what it sends on in an outbox per destination and posts each as one message when it
    /// holds this many, when its own queue is empty, or after this many of its messages. 1 = one
    /// request per message (VDO's way).
    /// </summary>
    public int MessageBatch { get; set; } = 1;

    /// <summary>
    /// StructureLocking: a caller's requests (the blocks of one read or write, up to 64) run
    /// together in batches of up to this many, each zone's lock taken once per batch and stage
    /// instead of once per request. 1 = every request alone.
    /// </summary>
    public int LockBatch { get; set; } = 1;

    /// <summary>
    /// Inline and StructureLocking: caller threads that run the pipeline's steps at once; the
    /// others wait in line (first come, first served) until one finishes its request. 0 = one per
    /// core; -1 = no limit (every caller runs at once, contending for the zone locks: 0.1% of
    /// writes waited 50-100 ms with 32 callers on 2 cores). MessagePassing ignores it.
    /// </summary>
    public int Runners { get; set; }

    /// <summary>
    /// Inline and StructureLocking, with <see cref="Runners"/>: how long a runner may keep its slot
    /// for its next requests while others wait in line (µs). Longer turns cost fewer thread
    /// switches, and a caller in line waits about (callers / runners) turns. 0 = the slot goes to
    /// the first in line after every request.
    /// </summary>
    public int RunnerTurnMicroseconds { get; set; } = 50;

    /// <summary>
    /// Which zones share an executor, by zone kind: under StructureLocking one lock, under
    /// MessagePassing one Dataflow block (one consumer). The zones of the kinds given the same
    /// name run on that executor, and a request runs its consecutive stages in them without
    /// leaving it (one lock acquisition, one message); a kind not named keeps one executor per
    /// zone. Keys: <see cref="ExecutorKinds"/>. E.g. <c>{"Logical": "front", "HashZone": "front"}</c>;
    /// every kind given one name is Inline's layout on the other drivers. Inline (one lock for
    /// every zone, by definition) ignores it.
    /// </summary>
    public Dictionary<string, string> Executors { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The zone kinds <see cref="Executors"/> may name: those that own structures (the stateless steps run on the request's thread).</summary>
    public static readonly IReadOnlyList<string> ExecutorKinds = ["Logical", "HashZone", "Physical", "Packer", "Journal"];

    /// <summary>The executor <see cref="Executors"/> names for zone kind <paramref name="kind"/>, or null (one lock per zone).</summary>
    public string? ExecutorOf(string kind)
    {
        foreach (var (key, name) in Executors) // by hand: a copy (JSON) may have lost the case-insensitive comparer
        {
            if (string.Equals(key, kind, StringComparison.OrdinalIgnoreCase) && !string.IsNullOrWhiteSpace(name))
                return name.Trim();
        }
        return null;
    }

    /// <summary>How each block of the message-passing graph runs.</summary>
    public StepsOptions Steps { get; set; } = new();
}
