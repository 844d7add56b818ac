using System.Diagnostics;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Workloads;
using HdrHistogram;

namespace DataflowVdo.Cli.Bench;

/// <summary>
/// Drives one volume with a pre-generated block set at a queue depth (that many threads each
/// issuing one request at a time), fio-style, and measures throughput, latency percentiles, CPU
/// and allocation per write. Generation is never timed; the final flush is.
/// </summary>
internal sealed class LoadRun(BlockSet blocks, long[] addresses, bool reads, int queueDepth, TimeSpan duration, int requestBlocks = 1, long logicalBlocks = long.MaxValue)
{
    private static readonly long HighestTrackable = Stopwatch.Frequency * 60;

    public BenchResult Run(string scheme, Volume volume, double ceiling)
    {
        // Reads need data: write the set once, untimed. Writes warm up on the first tenth, at the
        // run's queue depth, so what the volume grows lazily with the requests in flight (the request
        // pool, reservation tables, inbox lists, queue segments) has grown before allocations count.
        var warm = reads ? blocks.Count : Math.Min(20_000, blocks.Count / 10);
        var warmed = 0L;
        var warmers = new Thread[queueDepth];
        for (var t = 0; t < queueDepth; t++)
        {
            warmers[t] = new Thread(() =>
            {
                for (long i; (i = Interlocked.Increment(ref warmed) - 1) < warm;)
                    volume.Write(addresses[i], blocks[(int)i]);
            }) { IsBackground = true, Name = $"bench-warm-{t}" };
            warmers[t].Start();
        }
        foreach (var thread in warmers)
            thread.Join();
        volume.Flush();

        // The harness's own objects (a 220 KB histogram per thread, buffers, threads) exist before
        // allocations count: allocBytesPerWrite is the engine's.
        var histograms = new LongHistogram[queueDepth];
        for (var t = 0; t < queueDepth; t++)
            histograms[t] = new LongHistogram(HighestTrackable, 3);
        var next = reads ? 0L : warm;
        var total = (long)blocks.Count;
        var deadline = 0L;
        var threads = new Thread[queueDepth];
        for (var t = 0; t < queueDepth; t++)
        {
            var h = histograms[t];
            var buffer = new byte[requestBlocks * VdoConstants.BlockSize];
            threads[t] = new Thread(() =>
            {
                while (Stopwatch.GetTimestamp() < Volatile.Read(ref deadline))
                {
                    // A request of requestBlocks consecutive LBNs from the next address (like fio's bs).
                    var i = Interlocked.Add(ref next, requestBlocks) - requestBlocks;
                    var index = (int)(i % total);
                    var lbn = Math.Min(addresses[index], logicalBlocks - requestBlocks);
                    if (!reads && requestBlocks > 1)
                    {
                        for (var j = 0; j < requestBlocks; j++)
                            blocks[(int)((i + j) % total)].CopyTo(buffer.AsSpan(j * VdoConstants.BlockSize));
                    }
                    var t0 = Stopwatch.GetTimestamp();
                    if (requestBlocks == 1)
                    {
                        if (reads)
                            volume.Read(lbn, buffer);
                        else
                            volume.Write(lbn, blocks[index]);
                    }
                    else if (reads)
                    {
                        volume.ReadBlocks(lbn, buffer);
                    }
                    else
                    {
                        volume.WriteBlocks(lbn, buffer);
                    }
                    h.RecordValue(Math.Min(Stopwatch.GetTimestamp() - t0, HighestTrackable));
                    if (!reads && i + requestBlocks >= total)
                        break; // every block written once: the set is done
                }
            }) { IsBackground = true, Name = $"bench-{t}" };
        }
        var edges0 = volume.PipelineTransitions().ToDictionary(e => (e.From, e.To), e => e.Count); // before allocations count
        var process = Process.GetCurrentProcess();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var cpu0 = process.TotalProcessorTime;
        var alloc0 = GC.GetTotalAllocatedBytes(precise: true);
        var handoffs0 = volume.PipelineHandoffs;
        var locks0 = volume.PipelineLocks;
        var figures0 = volume.PipelineFigures();
        var depthSums = new double[figures0.Count];
        var samples = 0;
        var samplerAllocated = 0L;
        using var sampling = new CancellationTokenSource();
        var sampler = figures0.Count == 0 ? null : new Thread(() =>
        {
            // Queue depths are instantaneous: sample them through the run for a mean. What this
            // thread allocates (the figures every 10 ms) is the harness's: it is taken off the total.
            var mine0 = GC.GetAllocatedBytesForCurrentThread();
            while (!sampling.IsCancellationRequested)
            {
                var now = volume.PipelineFigures();
                for (var b = 0; b < now.Count; b++)
                    depthSums[b] += now[b].QueueDepth;
                samples++;
                Thread.Sleep(10);
            }
            samplerAllocated = GC.GetAllocatedBytesForCurrentThread() - mine0;
        }) { IsBackground = true, Name = "bench-sampler" };
        sampler?.Start();
        var start = Stopwatch.GetTimestamp();
        foreach (var thread in threads)
            thread.Start();
        foreach (var thread in threads)
            thread.Join();
        if (!reads)
            volume.Flush();
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        sampling.Cancel();
        sampler?.Join();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - alloc0 - samplerAllocated;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        var handoffs = volume.PipelineHandoffs - handoffs0;
        var locks = volume.PipelineLocks;
        var acquisitions = locks.Acquisitions - locks0.Acquisitions;
        var contended = locks.Contended - locks0.Contended;
        var figures1 = volume.PipelineFigures();
        var edges = volume.PipelineTransitions()
            .Select(e => new BenchEdge { From = e.From, To = e.To, Count = e.Count - edges0.GetValueOrDefault((e.From, e.To)) })
            .Where(e => e.Count > 0).ToList();

        var merged = new LongHistogram(HighestTrackable, 3);
        foreach (var h in histograms)
            merged.Add(h);
        var ops = merged.TotalCount * requestBlocks; // blocks; latency percentiles are per request
        var bytes = ops * (double)VdoConstants.BlockSize;
        var mbps = bytes / seconds / 1e6;
        double Us(double percentile) => merged.GetValueAtPercentile(percentile) * 1e6 / Stopwatch.Frequency;
        return new BenchResult
        {
            Scheme = scheme,
            Operations = ops,
            Seconds = seconds,
            MegabytesPerSecond = mbps,
            Iops = ops / seconds,
            P50Microseconds = Us(50),
            P99Microseconds = Us(99),
            P999Microseconds = Us(99.9),
            CpuSecondsPerGigabyte = bytes > 0 ? cpu / (bytes / 1e9) : 0,
            HandoffsPerWrite = ops > 0 ? handoffs / (double)ops : 0, // 0 for the inline scheme: every step runs on the caller
            AllocatedBytesPerWrite = ops > 0 ? allocated / (double)ops : 0,
            LockAcquisitionsPerWrite = ops > 0 ? acquisitions / (double)ops : 0,
            ContendedPercent = acquisitions > 0 ? 100.0 * contended / acquisitions : 0,
            Efficiency = ceiling > 0 ? mbps / ceiling : 0,
            SavingPercent = volume.GetStatistics().SavingPercent,
            Blocks = [.. figures1.Select((f, b) => new BenchBlock
            {
                Block = f.Block,
                MessagesPerWrite = ops > 0 ? (f.Messages - figures0[b].Messages) / (double)ops : 0,
                BusyPercent = 100 * (f.BusySeconds - figures0[b].BusySeconds) / (seconds * f.Parallelism),
                MeanQueueDepth = samples > 0 ? depthSums[b] / samples : 0,
                Parallelism = f.Parallelism,
            })],
            Edges = edges,
        };
    }
}
