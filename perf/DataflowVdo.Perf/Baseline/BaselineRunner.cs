using System.Diagnostics;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Workloads;

namespace DataflowVdo.Perf.Baseline;

/// <summary>
/// Runs the issue-2 baseline: for each workload, pre-generates its blocks, measures the compute
/// ceiling on them, warms the engine up on a throw-away volume, then writes them to a fresh
/// volume on a memory device (first pass over the empty pool, then steady-state overwrites),
/// one synchronous write at a time on this thread — the inline scheduler at queue depth 1.
/// </summary>
internal sealed class BaselineRunner(BaselineOptions options, Corpus corpus, TextWriter log)
{
    // Metadata (block map, journal, slab ref counts, index save area) on top of the data blocks.
    private const long MetadataSlackBlocks = 131_072;

    private const int WarmupWrites = 20_000;
    private const int WarmupLogicalBlocks = 16_384;
    private const int VerifySamples = 4096;

    // The time limit is checked every this many operations, so the clock stays out of the loop.
    private const int ClockCheckInterval = 256;

    public BaselineResult Run(WorkloadMix mix)
    {
        corpus.Reset(); // every workload starts at the corpus's first slice, whatever ran before
        var generator = new BlockGenerator(mix, options.Seed, corpus, options.DuplicateWindow);
        string description = WorkloadDescription.Format(generator);
        log.WriteLine($"[{mix.Name}] generating {options.Blocks:N0} blocks...");
        var blocks = BlockSet.Generate(generator, options.Blocks);
        double blocksRatio = blocks.MeasureLz4Ratio();
        long repeatedCorpusBlocks = Math.Max(0, corpus.BlocksRead - corpus.CountBlocks());
        if (repeatedCorpusBlocks > 0)
        {
            // docs/workloads.md's corpus is finite: past its end the slices start over, and those
            // repeats are exact copies the engine may dedupe, flattering "compressible".
            log.WriteLine($"[{mix.Name}] note: the corpus wrapped {corpus.Wraps} time(s); {repeatedCorpusBlocks:N0} corpus blocks repeat earlier ones and can dedupe.");
        }


        log.WriteLine($"[{mix.Name}] compute ceiling...");
        double ceiling = ComputeCeiling.Measure(blocks);
        log.WriteLine($"[{mix.Name}] ceiling {ceiling:F0} MB/s; warming up...");
        WarmUp(blocks);

        var phases = new List<PhaseResult>();
        int[] lastWritten = new int[options.WorkingSetBlocks];
        Array.Fill(lastWritten, -1);
        long deviceBlocks = options.WorkingSetBlocks + (long)options.Blocks + MetadataSlackBlocks;
        // Preallocated so the device's own memory never shows up as the engine's allocations.
        using var device = new MemoryBlockDevice(deviceBlocks, preallocate: true);
        using var volume = Volume.Format(device, new FormatParameters { LogicalBlocks = options.WorkingSetBlocks },
            VdoConfiguration.Load(sets: options.Sets, environment: false));
        var addresses = new AddressGenerator(options.Seed, options.WorkingSetBlocks, options.Sequential);

        int next = 0;
        log.WriteLine($"[{mix.Name}] first pass...");
        phases.Add(WritePhase("first-pass", volume, blocks, addresses, lastWritten, ref next, ceiling, firstPassOnly: true));
        if (mix.IsRead)
        {
            log.WriteLine($"[{mix.Name}] reads...");
            phases.Add(ReadPhase(volume, lastWritten));
        }
        else if (next < blocks.Count && phases[^1].Completed)
        {
            log.WriteLine($"[{mix.Name}] steady state...");
            phases.Add(WritePhase("steady-state", volume, blocks, addresses, lastWritten, ref next, ceiling, firstPassOnly: false));
        }

        var space = StatisticsSnapshot.ToSpaceResult(volume.GetStatistics(), writes: next);
        (int verified, int mismatches) = Verify(volume, blocks, lastWritten);
        if (mismatches > 0)
        {
            log.WriteLine($"[{mix.Name}] WARNING: {mismatches} of {verified} LBNs read back wrong; these figures measure a broken engine.");
        }

        return new BaselineResult
        {
            Workload = mix.Name,
            Mix = mix.Describe(),
            Seed = options.Seed,
            Description = description,
            Machine = MachineInfo.Current,
            Blocks = blocks.Count,
            WorkingSetBlocks = options.WorkingSetBlocks,
            Sequential = options.Sequential,
            BlocksLz4Ratio = blocksRatio,
            CorpusWraps = corpus.Wraps,
            RepeatedCorpusBlocks = repeatedCorpusBlocks,
            CeilingMegabytesPerSecond = ceiling,
            Phases = phases,
            Space = space,
            Verified = verified,
            Mismatches = mismatches,
        };
    }

    /// <summary>Runs every path of this workload on a throw-away volume so the JIT has tiered up before timing.</summary>
    private static void WarmUp(BlockSet blocks)
    {
        int writes = Math.Min(blocks.Count, WarmupWrites);
        using var device = new MemoryBlockDevice(WarmupLogicalBlocks + writes + MetadataSlackBlocks);
        using var volume = Volume.Format(device, new FormatParameters { LogicalBlocks = WarmupLogicalBlocks });
        byte[] read = new byte[BlockBytes.Size];
        for (int i = 0; i < writes; i++)
        {
            volume.Write(i % WarmupLogicalBlocks, blocks[i]);
        }

        volume.Flush();
        for (int i = 0; i < Math.Min(writes, WarmupLogicalBlocks); i++)
        {
            volume.Read(i, read);
        }
    }

    private PhaseResult WritePhase(
        string name, Volume volume, BlockSet blocks, AddressGenerator addresses, int[] lastWritten, ref int next, double ceiling, bool firstPassOnly)
    {
        var meter = PhaseMeter.Start(name);
        bool completed = true;
        while (next < blocks.Count && (!firstPassOnly || addresses.InFirstPass))
        {
            if (meter.Operations % ClockCheckInterval == 0 && meter.Elapsed > options.TimeLimit)
            {
                completed = false;
                break;
            }

            long lbn = addresses.Next();
            long start = Stopwatch.GetTimestamp();
            volume.Write(lbn, blocks[next]);
            meter.Record(start);
            lastWritten[lbn] = next++;
        }

        volume.Flush();
        return meter.Stop(ceiling, completed);
    }

    /// <summary>The <c>read</c> workload: every written LBN once, in shuffled order.</summary>
    private PhaseResult ReadPhase(Volume volume, int[] lastWritten)
    {
        var order = new AddressGenerator(options.Seed + 1, options.WorkingSetBlocks, options.Sequential);
        byte[] buffer = new byte[BlockBytes.Size];
        var meter = PhaseMeter.Start("read");
        bool completed = true;
        while (order.InFirstPass)
        {
            if (meter.Operations % ClockCheckInterval == 0 && meter.Elapsed > options.TimeLimit)
            {
                completed = false;
                break;
            }

            long lbn = order.Next();
            if (lastWritten[lbn] < 0)
            {
                continue;
            }

            long start = Stopwatch.GetTimestamp();
            volume.Read(lbn, buffer);
            meter.Record(start);
        }

        // The ceiling is hashing and compressing: it bounds writes, not reads.
        return meter.Stop(ceilingMegabytesPerSecond: 0, completed);
    }

    /// <summary>Reads back an evenly spread sample of LBNs and compares them with what was written last.</summary>
    private (int Verified, int Mismatches) Verify(Volume volume, BlockSet blocks, int[] lastWritten)
    {
        int samples = Math.Min(VerifySamples, lastWritten.Length);
        int stride = lastWritten.Length / samples;
        byte[] buffer = new byte[BlockBytes.Size];
        int mismatches = 0;
        for (int k = 0; k < samples; k++)
        {
            int lbn = k * stride;
            volume.Read(lbn, buffer);
            bool same = lastWritten[lbn] < 0 ? BlockBytes.IsZero(buffer) : blocks[lastWritten[lbn]].SequenceEqual(buffer);
            if (!same)
            {
                mismatches++;
            }
        }

        return (samples, mismatches);
    }
}
