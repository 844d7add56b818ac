namespace DataflowVdo.Config;

/// <summary>The numeric limits of every option, declared once as data.</summary>
internal static class OptionRules
{
    public static readonly OptionRule[] All =
    [
        new("Volume:BlockMapCacheMb", o => o.Volume.BlockMapCacheMb, 1, 65536, "MiB of cached block-map pages"),
        new("Volume:PageCacheWindowMb", o => o.Volume.PageCacheWindowMb, 0, 1 << 20, "MiB of recent data writes a pool file leaves in the page cache, 0 = all"),
        new("Pipeline:RequestPoolSize", o => o.Pipeline.RequestPoolSize, 1, 1 << 20, "requests in flight"),
        new("Pipeline:PackerBins", o => o.Pipeline.PackerBins, 1, 4096, "open packer bins"),
        new("Pipeline:LogicalZones", o => o.Pipeline.LogicalZones, 1, 16, "logical zones (block-map pages dealt round robin; MessagePassing and StructureLocking)"),
        new("Pipeline:PhysicalZones", o => o.Pipeline.PhysicalZones, 1, 16, "physical zones (slabs dealt round robin; MessagePassing and StructureLocking)"),
        new("Pipeline:HashZones", o => o.Pipeline.HashZones, 1, 16, "hash zones (block names by their first byte; MessagePassing and StructureLocking)"),
        new("Pipeline:LockBatch", o => o.Pipeline.LockBatch, 1, 64, "requests of one caller run as a batch under each zone lock (StructureLocking)"),
        new("Pipeline:MessageBatch", o => o.Pipeline.MessageBatch, 1, 256, "requests one message carries to a block (MessagePassing)"),
        new("Pipeline:Runners", o => o.Pipeline.Runners, -1, 1024, "callers running steps at once, 0 = one per core, -1 = no limit (Inline, StructureLocking)"),
        new("Pipeline:RunnerTurnMicroseconds", o => o.Pipeline.RunnerTurnMicroseconds, 0, 1_000_000, "µs a runner keeps its slot while others wait (Inline, StructureLocking)"),
        new("Pipeline:StepsPerRequeue", o => o.Pipeline.StepsPerRequeue, 1, 1024, "steps a request runs before requeueing (StructureLocking)"),
        new("Index:MemoryMb", o => o.Index.MemoryMb, 1, 1 << 20, "MiB for dedupe-index records"),
        new("Index:Chapters", o => o.Index.Chapters, 2, 4096, "temporal chapters"),
        new("Fuse:MaxThreads", o => o.Fuse.MaxThreads, 0, 256, "libfuse worker threads, 0 = automatic"),
        new("Fuse:MaxWriteKb", o => o.Fuse.MaxWriteKb, 4, 1024, "KiB per write request"),
        new("Fuse:MaxBackground", o => o.Fuse.MaxBackground, 0, 65535, "outstanding background requests, 0 = 128"),
        new("Fuse:AttributeTimeoutMs", o => o.Fuse.AttributeTimeoutMs, 0, 3_600_000, "attribute cache time"),
    ];
}

/// <summary>One numeric option and its range.</summary>
internal sealed record OptionRule(string Key, Func<VdoOptions, long> Read, long Min, long Max, string Meaning);
