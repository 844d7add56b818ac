using DataflowVdo.Pipeline;
using DataflowVdo.Workloads;

namespace DataflowVdo.Perf.Baseline;

/// <summary>Turns <see cref="VolumeStatistics"/> into the space figures of a baseline result.</summary>
internal static class StatisticsSnapshot
{
    /// <param name="statistics">Statistics after the last write phase and its flush.</param>
    /// <param name="writes">Writes of the run, zeros and duplicates included: the base of the lost points.</param>
    public static SpaceResult ToSpaceResult(VolumeStatistics statistics, long writes)
    {
        var counters = statistics.Counters;
        long packedBytes = counters.CompressedBlocksWritten * BlockBytes.Size;
        long fragmentBytes = counters.CompressedFragmentBytes;
        return new SpaceResult
        {
            LogicalBlocksUsed = statistics.LogicalBlocksUsed,
            DataBlocksUsed = statistics.DataBlocksUsed,
            SavingPercent = statistics.SavingPercent,
            CompressedFragments = counters.CompressedFragmentsWritten,
            CompressedFragmentBytes = fragmentBytes,
            PackedBlocksWritten = counters.CompressedBlocksWritten,
            PackedBytes = packedBytes,
            PackerEfficiency = packedBytes == 0 ? 0 : (double)fragmentBytes / packedBytes,
            LostSavingPoints = writes == 0 ? 0 : 100.0 * (packedBytes - fragmentBytes) / (writes * (double)BlockBytes.Size),
            Statistics = ToDictionary(statistics),
        };
    }

    private static Dictionary<string, double> ToDictionary(VolumeStatistics s)
    {
        var c = s.Counters;
        return new Dictionary<string, double>
        {
            [nameof(s.PhysicalBlocks)] = s.PhysicalBlocks,
            [nameof(s.LogicalBlocks)] = s.LogicalBlocks,
            [nameof(s.DataBlocksUsed)] = s.DataBlocksUsed,
            [nameof(s.OverheadBlocksUsed)] = s.OverheadBlocksUsed,
            [nameof(s.LogicalBlocksUsed)] = s.LogicalBlocksUsed,
            [nameof(s.FreeBlocks)] = s.FreeBlocks,
            [nameof(s.SavingPercent)] = s.SavingPercent,
            [nameof(s.BlockMapPages)] = s.BlockMapPages,
            [nameof(s.IndexEntries)] = s.IndexEntries,
            [nameof(s.IndexCapacity)] = s.IndexCapacity,
            [nameof(s.PackerFragmentsWaiting)] = s.PackerFragmentsWaiting,
            [nameof(s.JournalBlocksInUse)] = s.JournalBlocksInUse,
            [nameof(c.WritesIn)] = c.WritesIn,
            [nameof(c.ReadsIn)] = c.ReadsIn,
            [nameof(c.FlushesIn)] = c.FlushesIn,
            [nameof(c.ZeroBlocksWritten)] = c.ZeroBlocksWritten,
            [nameof(c.DedupeAdviceValid)] = c.DedupeAdviceValid,
            [nameof(c.DedupeAdviceStale)] = c.DedupeAdviceStale,
            [nameof(c.CompressedFragmentsWritten)] = c.CompressedFragmentsWritten,
            [nameof(c.CompressedBlocksWritten)] = c.CompressedBlocksWritten,
            [nameof(c.CompressedFragmentBytes)] = c.CompressedFragmentBytes,
            [nameof(c.DataBlocksWritten)] = c.DataBlocksWritten,
            [nameof(c.JournalEntries)] = c.JournalEntries,
            [nameof(c.JournalBlockWrites)] = c.JournalBlockWrites,
            [nameof(c.Checkpoints)] = c.Checkpoints,
            [nameof(c.DedupeRollovers)] = c.DedupeRollovers,
        };
    }
}
