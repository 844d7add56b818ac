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
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref durations)); // only this test writes while it listens
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
