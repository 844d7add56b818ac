using System.Diagnostics.Metrics;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>The Meter("DataflowVdo") instruments report what the volume did (what dotnet-counters shows).</summary>
[NonParallelizable]
public sealed class MetricsTests
{
    [Test]
    public void CountersGaugesAndDurationsReportTheVolumesActivity()
    {
        var longs = new Dictionary<string, long>();
        var durations = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == VolumeMetrics.MeterName)
                l.EnableMeasurementEvents(instrument);
        };
        string? pool = null; // other tests' volumes may still be registered: count only this one's
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var op = "";
            var mine = false;
            foreach (var t in tags)
            {
                if (t.Key == "op")
                    op = $"op={t.Value}";
                else if (t.Key == "pool")
                    mine = Equals(t.Value, pool);
            }
            if (!mine)
                return;
            lock (longs)
                longs[instrument.Name + op] = longs.GetValueOrDefault(instrument.Name + op) + value;
        });
        listener.SetMeasurementEventCallback<double>((instrument, _, _, _) =>
        {
            if (instrument.Name == "dataflowvdo.request.duration")
                Interlocked.Increment(ref durations); // only this test writes while it listens
        });
        listener.Start();

        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), TestPools.Options(DataflowVdo.Config.SchemeKind.Inline));
        pool = v.Geometry.Nonce.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
        for (var i = 0; i < 40; i++)
            v.Write(i, Content.Of(1, i % 10)); // 10 unique, 30 duplicates
        v.Flush();
        v.Read(3, new byte[VdoConstants.BlockSize]);
        listener.RecordObservableInstruments();

        Assert.Multiple(() =>
        {
            Assert.That(longs.GetValueOrDefault("dataflowvdo.requestsop=write"), Is.EqualTo(40));
            Assert.That(longs.GetValueOrDefault("dataflowvdo.requestsop=read"), Is.EqualTo(1));
            Assert.That(longs.GetValueOrDefault("dataflowvdo.dedupe.shared"), Is.EqualTo(30));
            Assert.That(longs.GetValueOrDefault("dataflowvdo.space.data_blocks"), Is.EqualTo(10));
            Assert.That(durations, Is.EqualTo(41), "one duration per write and read while listened to");
        });
    }
}

/// <summary>The message-passing graph reports per-block figures on the same meter.</summary>
[NonParallelizable]
public sealed class PipelineMetricsTests
{
    [Test]
    public void EveryBusyBlockReportsMessagesAndBusyTimeAndTheGraphReportsHandoffs()
    {
        var blocks = new Dictionary<string, double>();
        var busy = new Dictionary<string, double>();
        long handoffs = 0;
        string? pool = null;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == VolumeMetrics.MeterName && instrument.Name.StartsWith("dataflowvdo.pipeline.", StringComparison.Ordinal))
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            string? block = null;
            var mine = false;
            foreach (var t in tags)
            {
                if (t.Key == "block")
                    block = (string?)t.Value;
                else if (t.Key == "pool")
                    mine = Equals(t.Value, pool);
            }
            if (!mine || block is null)
                return;
            if (instrument.Name == "dataflowvdo.pipeline.messages")
                blocks[block] = value;
            else if (instrument.Name == "dataflowvdo.pipeline.busy")
                busy[block] = value;
        });
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var t in tags)
            {
                if (t.Key == "pool" && Equals(t.Value, pool) && instrument.Name == "dataflowvdo.pipeline.handoffs")
                    handoffs = value;
            }
        });
        listener.Start();
        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), TestPools.Options(DataflowVdo.Config.SchemeKind.MessagePassing));
        pool = v.Geometry.Nonce.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
        for (var i = 0; i < 300; i++)
            v.Write(i, Content.Of(i % 3, i % 40));
        v.Flush();
        listener.RecordObservableInstruments();
        Assert.Multiple(() =>
        {
            foreach (var b in new[] { "hash", "logical0", "hashzone0", "physical0", "compress", "packer", "datawrite", "journal" })
            {
                Assert.That(blocks.GetValueOrDefault(b), Is.GreaterThan(0), $"messages of {b}");
                Assert.That(busy.GetValueOrDefault(b), Is.GreaterThan(0), $"busy time of {b}");
            }
            Assert.That(blocks["hash"], Is.EqualTo(300), "every write is hashed once");
            Assert.That(handoffs, Is.GreaterThan(600), "a write crosses several blocks");
        });
    }
}

/// <summary>The batched variant of structure locking takes each zone's lock once per batch, not per request.</summary>
public sealed class LockBatchTests
{
    // All within block-map page 0, so in one logical zone (a batch that crosses pages is split by zone).
    private const int Extents = Geometry.EntriesPerPage / 64;

    private static (long Locks, byte[] Back) WriteExtents(int lockBatch)
    {
        var options = TestPools.Options(DataflowVdo.Config.SchemeKind.StructureLocking, o => o.Pipeline.LockBatch = lockBatch);
        using var v = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks()), TestPools.Small(), options);
        var extent = new byte[64 * VdoConstants.BlockSize];
        for (var j = 0; j < 64; j++)
            Content.Random(j).CopyTo(extent, j * VdoConstants.BlockSize); // incompressible: no request waits in the packer and leaves its batch
        var before = v.PipelineLocks.Acquisitions;
        for (var r = 0; r < Extents; r++)
            v.WriteBlocks(r * 64, extent);
        var locks = v.PipelineLocks.Acquisitions - before;
        var back = new byte[Extents * 64 * VdoConstants.BlockSize];
        v.ReadBlocks(0, back);
        return (locks, back);
    }

    [Test]
    public void BatchesOf64TakeFarFewerZoneLocksForTheSameData()
    {
        var alone = WriteExtents(1);
        var batched = WriteExtents(64);
        Assert.That(batched.Back, Is.EqualTo(alone.Back), "the same data either way");
        // A request that parks (the journal's commit, a data write, a verify read) leaves its batch and
        // resumes alone, so how many acquisitions remain depends on when those complete: measured 3.7–4.4×
        // fewer on 2 cores (7 per block alone, 1.6–1.9 batched). 3× still fails if batching stops working.
        Assert.That(batched.Locks * 3, Is.LessThan(alone.Locks), $"locks: {batched.Locks} batched vs {alone.Locks} alone for {Extents * 64} blocks");
    }
}
