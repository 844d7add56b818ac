using System.Diagnostics;
using DataflowVdo.Workloads;
using HdrHistogram;

namespace DataflowVdo.Perf.Baseline;

/// <summary>
/// Measures one phase: wall time, per-operation latency (HdrHistogram, recording allocates
/// nothing), allocated bytes and collections. A full blocking collection before the start
/// keeps the previous phase's garbage out of this one's figures.
/// </summary>
internal sealed class PhaseMeter
{
    // Operations longer than a minute would be a hang, not a latency.
    private static readonly long HighestTrackable = Stopwatch.Frequency * 60;

    private readonly LongHistogram _latency = new(HighestTrackable, 3);
    private readonly string _phase;
    private long _startTimestamp;
    private long _startThreadBytes;
    private long _startProcessBytes;
    private int _startGen0;
    private int _startGen2;
    private long _operations;

    private PhaseMeter(string phase) => _phase = phase;

    public long Operations => _operations;

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_startTimestamp);

    public static PhaseMeter Start(string phase)
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        var meter = new PhaseMeter(phase)
        {
            _startGen0 = GC.CollectionCount(0),
            _startGen2 = GC.CollectionCount(2),
            _startProcessBytes = GC.GetTotalAllocatedBytes(precise: true),
            _startThreadBytes = GC.GetAllocatedBytesForCurrentThread(),
        };
        meter._startTimestamp = Stopwatch.GetTimestamp();
        return meter;
    }

    /// <summary>Records one operation that began at <paramref name="startTimestamp"/> and ended now.</summary>
    public void Record(long startTimestamp)
    {
        _latency.RecordValue(Math.Min(Stopwatch.GetTimestamp() - startTimestamp, HighestTrackable));
        _operations++;
    }

    /// <summary>Ends the phase (call after the flush that makes its writes durable); a zero ceiling leaves efficiency at 0.</summary>
    public PhaseResult Stop(double ceilingMegabytesPerSecond, bool completed)
    {
        long end = Stopwatch.GetTimestamp();
        long threadBytes = GC.GetAllocatedBytesForCurrentThread() - _startThreadBytes;
        long processBytes = GC.GetTotalAllocatedBytes(precise: true) - _startProcessBytes;
        double seconds = Stopwatch.GetElapsedTime(_startTimestamp, end).TotalSeconds;
        long ops = Math.Max(_operations, 1);
        double mbps = _operations * (double)BlockBytes.Size / seconds / 1e6;
        return new PhaseResult
        {
            Phase = _phase,
            Operations = _operations,
            Seconds = seconds,
            MegabytesPerSecond = mbps,
            Iops = _operations / seconds,
            Efficiency = ceilingMegabytesPerSecond > 0 ? mbps / ceilingMegabytesPerSecond : 0,
            AllocatedBytesPerOp = (double)threadBytes / ops,
            ProcessAllocatedBytesPerOp = (double)processBytes / ops,
            Gen0Collections = GC.CollectionCount(0) - _startGen0,
            Gen2Collections = GC.CollectionCount(2) - _startGen2,
            LatencyMicroseconds = new LatencyResult(
                Microseconds(_latency.GetValueAtPercentile(50)),
                Microseconds(_latency.GetValueAtPercentile(90)),
                Microseconds(_latency.GetValueAtPercentile(99)),
                Microseconds(_latency.GetValueAtPercentile(99.9)),
                Microseconds(_latency.GetMaxValue())),
            Completed = completed,
        };
    }

    private static double Microseconds(long ticks) => ticks * 1e6 / Stopwatch.Frequency;
}
