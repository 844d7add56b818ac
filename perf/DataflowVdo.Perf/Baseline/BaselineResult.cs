namespace DataflowVdo.Perf.Baseline;

/// <summary>Everything one workload of <c>baseline</c> measured; serialised as one JSON object.</summary>
internal sealed record BaselineResult
{
    public required string Workload { get; init; }

    public required string Mix { get; init; }

    public required long Seed { get; init; }

    public required string Description { get; init; }

    public required MachineInfo Machine { get; init; }

    public required int Blocks { get; init; }

    public required int WorkingSetBlocks { get; init; }

    public required bool Sequential { get; init; }

    /// <summary>LZ4 ratio over the blocks this run wrote (zeros and duplicates included).</summary>
    public required double BlocksLz4Ratio { get; init; }

    /// <summary>Times the corpus started over while generating; its repeated slices are exact duplicates.</summary>
    public required int CorpusWraps { get; init; }

    public required long RepeatedCorpusBlocks { get; init; }

    public required double CeilingMegabytesPerSecond { get; init; }

    public required IReadOnlyList<PhaseResult> Phases { get; init; }

    public SpaceResult? Space { get; init; }

    /// <summary>LBNs read back after the run and compared with what was written last.</summary>
    public int Verified { get; init; }

    public int Mismatches { get; init; }
}

/// <summary>One measured phase: the first pass over an empty pool, the steady-state overwrites, or reads.</summary>
internal sealed record PhaseResult
{
    public required string Phase { get; init; }

    public required long Operations { get; init; }

    public required double Seconds { get; init; }

    /// <summary>MB (10^6 bytes) of 4 KiB blocks per second, the final flush included.</summary>
    public required double MegabytesPerSecond { get; init; }

    public required double Iops { get; init; }

    /// <summary>Pipeline throughput over the compute ceiling of the same blocks; 0 for reads, which it does not bound.</summary>
    public required double Efficiency { get; init; }

    /// <summary>GC.GetAllocatedBytesForCurrentThread delta per operation.</summary>
    public required double AllocatedBytesPerOp { get; init; }

    /// <summary>GC.GetTotalAllocatedBytes delta per operation: includes any helper threads.</summary>
    public required double ProcessAllocatedBytesPerOp { get; init; }

    public required int Gen0Collections { get; init; }

    public required int Gen2Collections { get; init; }

    public required LatencyResult LatencyMicroseconds { get; init; }

    /// <summary>False when the time limit stopped the phase before its last block.</summary>
    public required bool Completed { get; init; }
}

/// <summary>Per-operation latency percentiles in microseconds (inline scheduler: queue depth 1).</summary>
internal sealed record LatencyResult(double P50, double P90, double P99, double P999, double Max);

/// <summary>Space figures from the volume statistics after the last write phase.</summary>
internal sealed record SpaceResult
{
    public required long LogicalBlocksUsed { get; init; }

    public required long DataBlocksUsed { get; init; }

    public required double SavingPercent { get; init; }

    public required long CompressedFragments { get; init; }

    public required long CompressedFragmentBytes { get; init; }

    public required long PackedBlocksWritten { get; init; }

    /// <summary>PackedBlocksWritten × 4096: what compressed data actually occupies.</summary>
    public required long PackedBytes { get; init; }

    /// <summary>CompressedFragmentBytes / PackedBytes: 1 would be a packer that wastes nothing.</summary>
    public required double PackerEfficiency { get; init; }

    /// <summary>
    /// (PackedBytes − CompressedFragmentBytes) as a percentage of the bytes written: how many
    /// points of saving perfect packing would add.
    /// </summary>
    public required double LostSavingPoints { get; init; }

    /// <summary>Every numeric property of the volume statistics, by name, as the engine reported it.</summary>
    public required IReadOnlyDictionary<string, double> Statistics { get; init; }
}
