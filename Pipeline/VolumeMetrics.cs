using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The volume's instruments on the one <c>Meter("DataflowVdo")</c>, readable by
/// <c>dotnet-counters monitor --counters DataflowVdo</c> and OpenTelemetry. Cumulative figures
/// are observable instruments read from the volume's statistics at collection time, so the
/// write path pays nothing for them; each carries a <c>pool</c> tag (the pool's nonce). The
/// request-duration histogram is recorded only while a listener is enabled.
/// </summary>
public static class VolumeMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "DataflowVdo";

    private static readonly Lock Sync = new();
    private static readonly List<WeakReference<Volume>> Volumes = [];
    private static Meter? _meter; // under Sync
    private static Histogram<double>? _requestDuration; // set once under Sync, read without it

    /// <summary>
    /// The meter and its instruments, created with the first volume registered: a process that
    /// only reads a pool opened for reading (a restore) never pays for them (creating them, mostly
    /// first-use loading and JIT of System.Diagnostics.Metrics, took 6% of a 4 KiB restore's
    /// main-thread samples). Duration of each request (write, read, discard, flush) as the caller
    /// sees it: <c>dataflowvdo.request.duration</c>.
    /// </summary>
    private static void CreateInstruments()
    {
        var meter = new Meter(MeterName, "1.0");
        Volatile.Write(ref _requestDuration, meter.CreateHistogram<double>("dataflowvdo.request.duration", "s", "time from a request's call to its return"));
        meter.CreateObservableCounter("dataflowvdo.requests", () => Observe((s, pool) =>
        [
            new(s.Counters.WritesIn, pool, new KeyValuePair<string, object?>("op", "write")),
            new(s.Counters.ReadsIn, pool, new KeyValuePair<string, object?>("op", "read")),
            new(s.Counters.DiscardsIn, pool, new KeyValuePair<string, object?>("op", "discard")),
            new(s.Counters.FlushesIn, pool, new KeyValuePair<string, object?>("op", "flush")),
        ]), "{request}", "4 KiB requests served");
        meter.CreateObservableCounter("dataflowvdo.dedupe.shared", () => Observe((s, pool) => [new(s.Counters.DedupeAdviceValid, pool)]), "{block}", "writes that shared an existing block after verification");
        meter.CreateObservableCounter("dataflowvdo.data.checksum_failures", () => Observe((s, pool) => [new(s.Counters.DataChecksumFailures, pool)]), "{block}", "reads and scrubs that found a data block or fragment failing its checksum");
        meter.CreateObservableCounter("dataflowvdo.dedupe.stale", () => Observe((s, pool) => [new(s.Counters.DedupeAdviceStale, pool)]), "{block}", "index hints that failed verification");
        meter.CreateObservableCounter("dataflowvdo.compression.fragments", () => Observe((s, pool) => [new(s.Counters.CompressedFragmentsWritten, pool)]), "{block}", "writes stored as compressed fragments");
        meter.CreateObservableCounter("dataflowvdo.compression.packed_blocks", () => Observe((s, pool) => [new(s.Counters.CompressedBlocksWritten, pool)]), "{block}", "packed blocks written");
        meter.CreateObservableCounter("dataflowvdo.zero_blocks", () => Observe((s, pool) => [new(s.Counters.ZeroBlocksWritten, pool)]), "{block}", "all-zero writes eliminated");
        meter.CreateObservableCounter("dataflowvdo.journal.entries", () => Observe((s, pool) => [new(s.Counters.JournalEntries, pool)]), "{entry}", "recovery-journal entries appended");
        meter.CreateObservableCounter("dataflowvdo.journal.block_writes", () => Observe((s, pool) => [new(s.Counters.JournalBlockWrites, pool)]), "{block}", "recovery-journal block writes (group commits)");
        meter.CreateObservableGauge("dataflowvdo.space.data_blocks", () => Observe((s, pool) => [new(s.DataBlocksUsed, pool)]), "{block}", "physical blocks holding data");
        meter.CreateObservableGauge("dataflowvdo.space.logical_blocks", () => Observe((s, pool) => [new(s.LogicalBlocksUsed, pool)]), "{block}", "logical blocks mapped");
        meter.CreateObservableGauge("dataflowvdo.space.free_blocks", () => Observe((s, pool) => [new(s.FreeBlocks, pool)]), "{block}", "free physical blocks");
        meter.CreateObservableCounter("dataflowvdo.pipeline.messages", () => ObserveBlocks(f => f.Messages), "{message}", "messages processed by each block of the message-passing graph (tag: block)");
        meter.CreateObservableCounter("dataflowvdo.pipeline.busy", () => ObserveBlocks(f => f.BusySeconds), "s", "time each block spent processing messages, over its parallel workers (tag: block)");
        meter.CreateObservableGauge("dataflowvdo.pipeline.queue_depth", () => ObserveBlocks(f => f.QueueDepth), "{message}", "messages waiting in each block's queue (tag: block)");
        meter.CreateObservableCounter("dataflowvdo.pipeline.handoffs", ObserveHandoffs, "{handoff}", "requests posted from one block to another");
        meter.CreateObservableGauge("dataflowvdo.packer.waiting", () => Observe((s, pool) => [new(s.PackerFragmentsWaiting, pool)]), "{fragment}", "compressed fragments waiting in packer bins");
        _meter = meter;
    }

    /// <summary>Starts reporting a volume's figures (called at open; the volume is held weakly).</summary>
    internal static void Register(Volume volume)
    {
        lock (Sync)
        {
            if (_meter is null)
                CreateInstruments();
            Volumes.RemoveAll(w => !w.TryGetTarget(out _));
            Volumes.Add(new WeakReference<Volume>(volume));
        }
    }

    /// <summary>Stops reporting a closed volume.</summary>
    internal static void Unregister(Volume volume)
    {
        lock (Sync)
            Volumes.RemoveAll(w => !w.TryGetTarget(out var v) || ReferenceEquals(v, volume));
    }

    /// <summary>Records a request's duration from <paramref name="start"/> (a <see cref="Stopwatch"/> timestamp), if anyone listens.</summary>
    internal static void RecordDuration(long start, string op)
    {
        if (start != 0)
            _requestDuration!.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, new KeyValuePair<string, object?>("op", op));
    }

    /// <summary>A timestamp when the histogram is being listened to, else 0 (no cost on the hot path).</summary>
    internal static long StartTiming() => Volatile.Read(ref _requestDuration) is { Enabled: true } ? Stopwatch.GetTimestamp() : 0;

    private static Volume[] Open()
    {
        lock (Sync)
            return [.. Volumes.Select(w => w.TryGetTarget(out var v) ? v : null).OfType<Volume>()];
    }

    private static KeyValuePair<string, object?> PoolTag(Volume v) =>
        new("pool", v.Geometry.Nonce.ToString("x16", System.Globalization.CultureInfo.InvariantCulture));

    private static IEnumerable<Measurement<double>> ObserveBlocks(Func<PipelineBlockFigures, double> read)
    {
        var all = new List<Measurement<double>>();
        foreach (var v in Open())
        {
            foreach (var f in v.PipelineFigures())
                all.Add(new Measurement<double>(read(f), PoolTag(v), new KeyValuePair<string, object?>("block", f.Block)));
        }
        return all;
    }

    private static IEnumerable<Measurement<long>> ObserveHandoffs() =>
        [.. Open().Select(v => new Measurement<long>(v.PipelineHandoffs, PoolTag(v)))];

    private static IEnumerable<Measurement<long>> Observe(Func<VolumeStatistics, KeyValuePair<string, object?>, Measurement<long>[]> read)
    {
        Volume[] volumes;
        lock (Sync)
            volumes = [.. Volumes.Select(w => w.TryGetTarget(out var v) ? v : null).OfType<Volume>()];
        var all = new List<Measurement<long>>();
        foreach (var v in volumes)
        {
            try
            {
                // Tagged with the pool's nonce so several open pools (or tests) stay apart.
                all.AddRange(read(v.SnapshotStatistics(), new KeyValuePair<string, object?>("pool", v.Geometry.Nonce.ToString("x16", System.Globalization.CultureInfo.InvariantCulture))));
            }
            catch (ObjectDisposedException)
            {
                // closed between the listing and the read
            }
        }
        return all;
    }
}
