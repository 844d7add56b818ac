using System.Buffers.Binary;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// Many writers at once, on few LBNs and few distinct contents: the most logical-lock waits,
/// hash-lock coalescing and packer pushes. Every run must finish (a deadlock fails the test
/// after a timeout instead of hanging it) and agree with a model.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class ConcurrencyTests(SchemeCase scheme)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);

    [Test]
    [CancelAfter(300_000)]
    public void ConcurrentWritersOnFewLbnsAndFewContentsMatchTheModel([Values(WritePolicy.Async, WritePolicy.Sync)] WritePolicy policy, [Values(1, 4)] int zones)
    {
        const int Threads = 8, Lbns = 48, OpsPerThread = 1500;
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        var hooks = new VolumeHooks { BlockMapCachePages = 8 };
        var options = TestPools.Options(scheme, o =>
        {
            o.Volume.WritePolicy = policy;
            o.Pipeline.HashZones = zones;
            o.Pipeline.LogicalZones = zones;
            o.Pipeline.PhysicalZones = zones; // 4 slabs: one each
            o.Pipeline.HashOnSubmit = zones > 1; // message passing: both graph shapes
        });
        var model = new byte[Lbns][];
        var locks = new object[Lbns];
        for (var i = 0; i < Lbns; i++)
        {
            model[i] = Content.Zero();
            locks[i] = new object();
        }
        // A dozen contents shared by every thread: identical concurrent writes dedupe against each other.
        var contents = Enumerable.Range(0, 12).Select(i => Content.Of(i % 3, i)).ToArray();
        var errors = new List<string>();
        using (var volume = Volume.Format(device, TestPools.Small(), options, hooks))
        {
            var workers = Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
            {
                var random = new Random(t);
                var buffer = new byte[VdoConstants.BlockSize];
                for (var k = 0; k < OpsPerThread; k++)
                {
                    var i = random.Next(Lbns);
                    var lbn = LbnOf(i);
                    var op = random.Next(100);
                    // The test serializes each LBN so the model knows its value; the volume still
                    // sees the other threads' LBNs and identical contents at the same time.
                    lock (locks[i])
                    {
                        if (op < 60)
                        {
                            var c = contents[random.Next(contents.Length)];
                            volume.Write(lbn, c);
                            model[i] = c;
                        }
                        else if (op < 90)
                        {
                            volume.Read(lbn, buffer);
                            if (!buffer.AsSpan().SequenceEqual(model[i]))
                            {
                                lock (errors)
                                    errors.Add($"thread {t} op {k}: LBN {lbn} read back other data than last written");
                            }
                        }
                        else if (op < 97)
                        {
                            volume.Discard(lbn);
                            model[i] = Content.Zero();
                        }
                        else
                        {
                            volume.Flush();
                        }
                    }
                }
            })).ToArray();
            Assert.That(Task.WaitAll(workers, Deadline), Is.True, () => $"writers did not finish: deadlock or lost acknowledgement ({scheme}; {volume.DescribeState()})");
            Assert.That(errors, Is.Empty);
            volume.Flush();
            Assert.That(volume.Check(), Is.Empty);
        }
        using var reopened = Volume.Open(device, options, hooks);
        var back = new byte[VdoConstants.BlockSize];
        for (var i = 0; i < Lbns; i++)
        {
            reopened.Read(LbnOf(i), back);
            Assert.That(back, Is.EqualTo(model[i]), $"LBN {LbnOf(i)} after close and reopen");
        }
        Assert.That(reopened.Check(), Is.Empty);
    }

    private static byte[] ReadBlock(IBlockDevice device, long pbn)
    {
        var block = new byte[VdoConstants.BlockSize];
        device.Read(pbn, block);
        return block;
    }

    [Test]
    [CancelAfter(120_000)]
    public void AFlushCoversADuplicateAcknowledgedWhileItsTwinIsStillBeingWritten()
    {
        // Caller A's block is held at its data write; caller B writes the same content elsewhere
        // and flushes. Whenever B's flush returns, B's block must survive a power cut (I5).
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var twin = Content.Random(4242);
        using var device = new FaultInjectingDevice(inner) { HoldNextWrite = data => data.Span.SequenceEqual(twin) };
        var options = TestPools.Options(scheme);
        MemoryBlockDevice image;
        var volume = Volume.Format(device, TestPools.Small(), options);
        try
        {
            volume.Flush();
            var a = Task.Run(() => volume.Write(100, twin));
            Assert.That(device.Holding.Wait(TimeSpan.FromSeconds(30)), Is.True, "A's data write reached the device");
            var b = Task.Run(() =>
            {
                volume.Write(200, twin);
                volume.Flush();
            });
            // B may finish while A is held (it must then be durable on its own) or only after A.
            MemoryBlockDevice? early = null;
            if (b.Wait(TimeSpan.FromSeconds(2)))
                early = inner.Crash(new Random(1), tear: false, keep: 0); // power cut before A goes on
            device.Release();
            Assert.That(Task.WaitAll([a, b], Deadline), Is.True, "writers did not finish");
            image = early ?? inner.Crash(new Random(1), tear: false, keep: 0);
        }
        finally
        {
            device.Release();
            volume.Dispose();
        }
        using var reopened = Volume.Open(image, options);
        var back = new byte[VdoConstants.BlockSize];
        reopened.Read(200, back);
        Assert.That(back, Is.EqualTo(twin), "B's flushed write survived the power cut");
        Assert.That(reopened.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(120_000)]
    public void AReadOfABlockWhoseDataWriteIsHeldReturnsTheOldOrTheNewData()
    {
        // A's data write is held at the device; a read of its LBN meanwhile gets the old block or
        // the new one, never anything else (inline: A's data is still in A's buffer, not in its
        // request; without compression nothing under the lock copied it there).
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var old = Content.Random(6060);
        var held = Content.Random(6161);
        using var device = new FaultInjectingDevice(inner) { HoldNextWrite = data => data.Span.SequenceEqual(held) };
        using var volume = Volume.Format(device, TestPools.Small(), TestPools.Options(scheme, o => o.Pipeline.Compression = false));
        try
        {
            volume.Write(100, old);
            volume.Flush();
            var a = Task.Run(() => volume.Write(100, held));
            Assert.That(device.Holding.Wait(TimeSpan.FromSeconds(30)), Is.True, "A's data write reached the device");
            var back = new byte[VdoConstants.BlockSize];
            var read = Task.Run(() => volume.Read(100, back));
            // A scheme may make the read wait for the write; then it ends once A is let go.
            if (!read.Wait(TimeSpan.FromSeconds(2)))
                device.Release();
            Assert.That(read.Wait(Deadline), Is.True, "the read did not finish");
            device.Release();
            Assert.That(a.Wait(Deadline), Is.True, "A did not finish");
            Assert.That(back.AsSpan().SequenceEqual(old) || back.AsSpan().SequenceEqual(held), Is.True, "the read returned the old or the new block");
            volume.Read(100, back);
            Assert.That(back, Is.EqualTo(held), "once A returned, reads see its block");
        }
        finally
        {
            device.Release();
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public void ClosingWhileAWriteIsInFlightWaitsForItAndKeepsIt()
    {
        // A's data write is held (inline: outside the volume's lock) when the volume is closed:
        // the close waits for A, and A's write, acknowledged, is in the closed pool.
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var held = Content.Random(8181);
        using var device = new FaultInjectingDevice(inner) { HoldNextWrite = data => data.Span.SequenceEqual(held) };
        var options = TestPools.Options(scheme);
        var volume = Volume.Format(device, TestPools.Small(), options);
        try
        {
            var a = Task.Run(() => volume.Write(100, held));
            Assert.That(device.Holding.Wait(TimeSpan.FromSeconds(30)), Is.True, "A's data write reached the device");
            var close = Task.Run(volume.Dispose);
            close.Wait(TimeSpan.FromSeconds(1)); // lets the close reach A (it cannot finish before A goes on)
            device.Release();
            Assert.That(Task.WaitAll([a, close], Deadline), Is.True, "A or the close did not finish");
        }
        finally
        {
            device.Release();
            volume.Dispose();
        }
        using var reopened = Volume.Open(inner.Crash(new Random(3), tear: false, keep: 0), options);
        var back = new byte[VdoConstants.BlockSize];
        reopened.Read(100, back);
        Assert.That(back, Is.EqualTo(held), "A's write is in the closed pool");
        Assert.That(reopened.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(120_000)]
    public void ADuplicateBeingVerifiedKeepsItsBlockWhileItsOtherMappingIsOverwrittenAndThePoolFills()
    {
        // A writes a copy of LBN 0's block; A's verify read is held just after it read the block.
        // Meanwhile B overwrites LBN 0 (the block's only reference) and fills the pool with other
        // data, so the block would be freed and reused if A's pin did not keep it: A would then
        // map, as a verified duplicate, a block that holds B's data. B must not wait for A.
        var format = TestPools.Small(logicalBlocks: 8192);
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks(format, slabs: 2));
        var original = Content.Random(7070);
        using var device = new FaultInjectingDevice(inner);
        var options = TestPools.Options(scheme);
        var volume = Volume.Format(device, format, options);
        try
        {
            volume.Write(0, original);
            volume.Flush();
            var geometry = Geometry.Decode(ReadBlock(inner, 0), inner.BlockCount);
            device.HoldAfterNextRead = geometry.IsDataBlock; // nothing but A's verification reads data
            var a = Task.Run(() => volume.Write(5000, original));
            Assert.That(device.Holding.Wait(TimeSpan.FromSeconds(30)), Is.True, "A's verify read reached the device");
            var filled = 0;
            var b = Task.Run(() =>
            {
                volume.Write(0, Content.Random(7071));
                try
                {
                    for (filled = 1; filled < 5000; filled++)
                        volume.Write(filled, Content.Random(10_000 + filled));
                }
                catch (OutOfSpaceException)
                {
                    // the pool is full: every block B could be given is in use
                }
            });
            // One slow verify read stalls no other writer (inline: A verifies outside the lock).
            Assert.That(((IAsyncResult)b).AsyncWaitHandle.WaitOne(Deadline), Is.True, "B's writes did not finish while A's verification was held");
            device.Release();
            Assert.That(Task.WaitAll([a, b], Deadline), Is.True, "writers did not finish");
            Assert.That(filled, Is.LessThan(5000), "B filled the pool");
            var back = new byte[VdoConstants.BlockSize];
            volume.Read(5000, back);
            Assert.That(back, Is.EqualTo(original), "A's LBN holds A's data");
            volume.Read(0, back);
            Assert.That(back, Is.EqualTo(Content.Random(7071)), "B's overwrite of LBN 0");
            for (var i = 1; i < filled; i++)
            {
                volume.Read(i, back);
                Assert.That(back, Is.EqualTo(Content.Random(10_000 + i)), $"B's LBN {i}");
            }
            Assert.That(volume.Check(), Is.Empty);
        }
        finally
        {
            device.Release();
            volume.Dispose();
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public void AFailedWriteAfterAFailedVerificationLeavesEveryLbnOfTheRequestOldOrNew()
    {
        // Every block has the same name, so each block of the second request gets a hint that
        // fails verification and is then stored anew; that data write fails. Whatever the
        // volume did with the request's other blocks, each LBN reads old or new data.
        const int Blocks = 8;
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        using var device = new FaultInjectingDevice(inner);
        var options = TestPools.Options(scheme);
        var hooks = new VolumeHooks { Namer = static _ => 42 };
        byte[] Old(int i) => Content.Random(i);
        byte[] New(int i) => Content.Random(100 + i);
        var request = new byte[Blocks * VdoConstants.BlockSize];
        using (var volume = Volume.Format(device, TestPools.Small(), options, hooks))
        {
            for (var i = 0; i < Blocks; i++)
                volume.Write(i, Old(i));
            volume.Flush();
            var geometry = Geometry.Decode(ReadBlock(inner, 0), inner.BlockCount);
            for (var i = 0; i < Blocks; i++)
                New(i).CopyTo(request, i * VdoConstants.BlockSize);
            device.FailNextWrite = geometry.IsDataBlock;
            var error = Assert.Catch(() => volume.WriteBlocks(0, request));
            Assert.That(error, Is.InstanceOf<IOException>().Or.InstanceOf<ReadOnlyVolumeException>());
            var back = new byte[VdoConstants.BlockSize];
            for (var i = 0; i < Blocks; i++)
            {
                volume.Read(i, back);
                Assert.That(back.AsSpan().SequenceEqual(Old(i)) || back.AsSpan().SequenceEqual(New(i)), Is.True, $"LBN {i} reads old or new data");
            }
        }
        using var reopened = Volume.Open(inner.Crash(new Random(4), tear: false, keep: 0), options, hooks);
        var after = new byte[VdoConstants.BlockSize];
        for (var i = 0; i < Blocks; i++)
        {
            reopened.Read(i, after);
            Assert.That(after.AsSpan().SequenceEqual(Old(i)) || after.AsSpan().SequenceEqual(New(i)), Is.True, $"LBN {i} after recovery");
        }
        Assert.That(reopened.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(120_000)]
    public void AWriteStillInFlightWhenTheVolumeGoesReadOnlyLeavesItsLbnOldOrNewAndRecovers()
    {
        // A's data write is held; B's journal commit fails (sync writes commit before they are
        // acknowledged), which makes the volume read-only. When A goes on, nothing more may be
        // written for it (inline: its write fails). (A failed data write fails only its writer.)
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks());
        var held = Content.Random(5151);
        var broken = Content.Random(5252);
        using var device = new FaultInjectingDevice(inner) { HoldNextWrite = data => data.Span.SequenceEqual(held) };
        var options = TestPools.Options(scheme, o => o.Volume.WritePolicy = WritePolicy.Sync);
        Exception? aError = null;
        var volume = Volume.Format(device, TestPools.Small(), options);
        try
        {
            volume.Write(100, Content.Random(1));
            volume.Flush();
            var a = Task.Run(() => volume.Write(100, held));
            Assert.That(device.Holding.Wait(TimeSpan.FromSeconds(30)), Is.True, "A's data write reached the device");
            var geometry = Geometry.Decode(ReadBlock(inner, 0), inner.BlockCount);
            device.FailNextWrite = pbn => pbn >= geometry.JournalStart && pbn < geometry.JournalStart + geometry.JournalBlocks; // B's journal block
            // (Each call runs with a deadline: a hang fails the test instead of stopping the run.)
            var b = Task.Run(() => volume.Write(200, broken));
            Assert.That(((IAsyncResult)b).AsyncWaitHandle.WaitOne(Deadline), Is.True, "B's write did not finish while A was held");
            Assert.That(b.Exception?.InnerException, Is.InstanceOf<IOException>().Or.InstanceOf<ReadOnlyVolumeException>());
            var c = Task.Run(() => volume.Write(300, Content.Random(3)));
            Assert.That(((IAsyncResult)c).AsyncWaitHandle.WaitOne(Deadline), Is.True, "a write after B's failure did not finish");
            Assert.That(c.Exception?.InnerException, Is.InstanceOf<ReadOnlyVolumeException>(), "B's failed journal write made the volume read-only");
            device.Release();
            Assert.That(((IAsyncResult)a).AsyncWaitHandle.WaitOne(Deadline), Is.True, "A did not finish");
            aError = a.Exception?.InnerException;
            if (scheme == SchemeKind.Inline)
                Assert.That(aError, Is.InstanceOf<ReadOnlyVolumeException>(), "inline journals nothing once the volume is read-only");
        }
        finally
        {
            device.Release();
            volume.Dispose();
        }
        using var reopened = Volume.Open(inner.Crash(new Random(2), tear: false, keep: 1), options);
        var back = new byte[VdoConstants.BlockSize];
        reopened.Read(100, back);
        Assert.That(back.AsSpan().SequenceEqual(Content.Random(1)) || back.AsSpan().SequenceEqual(held), Is.True, "LBN 100 is old or new");
        reopened.Read(200, back);
        Assert.That(back, Is.EqualTo(Content.Zero()), "B's failed write left nothing");
        Assert.That(reopened.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(120_000)]
    public void AWriteQueuedBehindAnotherOnItsLbnIsNotLeftWaitingForThePacker()
    {
        // Three requests queue on one LBN: a read (its data read held at the device), then write P,
        // then write Y. Y made the read urgent, not P. When the read ends, P takes the lock over
        // with Y still behind it; P's data compresses, and the packer must not keep P in a bin
        // that nothing else fills (dm-vdo's transfer_lock cancels the new holder's compression):
        // P is acknowledged from the packer, but Y would wait for good. CI hung this way once.
        var format = TestPools.Small();
        var inner = new CrashSimulatingDevice(TestPools.DeviceBlocks(format, slabs: 2));
        using var device = new FaultInjectingDevice(inner);
        var options = TestPools.Options(scheme);
        using var volume = Volume.Format(device, format, options);
        const long Lbn = 7;
        volume.Write(Lbn, Content.Random(8080));
        volume.Flush();
        var geometry = Geometry.Decode(ReadBlock(inner, 0), inner.BlockCount);
        var before = volume.RequestsInFlight;
        device.HoldAfterNextRead = geometry.IsDataBlock;
        var read = Task.Run(() => volume.Read(Lbn, new byte[VdoConstants.BlockSize]));
        Assert.That(device.Holding.Wait(TimeSpan.FromSeconds(30)), Is.True, "the read reached the device");
        var p = Task.Run(() => volume.Write(Lbn, Content.Compressible(8081)));
        Assert.That(SpinWait.SpinUntil(() => volume.RequestsInFlight == before + 2, TimeSpan.FromSeconds(30)), Is.True, "P queued behind the read");
        var y = Task.Run(() => volume.Write(Lbn, Content.Compressible(8082)));
        Assert.That(SpinWait.SpinUntil(() => volume.RequestsInFlight == before + 3, TimeSpan.FromSeconds(30)), Is.True, "Y queued behind P");
        device.Release();
        Assert.That(Task.WaitAll([read, p, y], TimeSpan.FromSeconds(30)), Is.True,
            () => $"a request on the LBN did not finish ({scheme}; {volume.DescribeState()})");
        var back = new byte[VdoConstants.BlockSize];
        volume.Read(Lbn, back);
        Assert.That(back, Is.EqualTo(Content.Compressible(8082)), "Y, the last write, is what the LBN holds");
        volume.Flush();
        Assert.That(volume.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(300_000)]
    public void UnserializedWritersOnTheSameLbnsNeverMixBlocks()
    {
        // Nothing serializes the callers here: runs of blocks overlap on the same LBNs, with the
        // same contents written to many LBNs at once. Every block read must be one that was
        // written to that LBN (or zeros), whole; after close and reopen nothing changes.
        const int Threads = 6, Lbns = 40, OpsPerThread = 250;
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        var options = TestPools.Options(scheme);
        byte[] ContentOf(int lbn, int tag) => tag switch
        {
            < 4 => Content.Random((lbn * 16) + tag),
            < 6 => Content.Compressible((lbn * 16) + tag),
            _ => Content.Random(100_000 + tag), // the same on every LBN: concurrent duplicates
        };
        var allowed = Enumerable.Range(0, Lbns).Select(l => Enumerable.Range(0, 8).Select(t => ContentOf(l, t)).Append(Content.Zero()).ToArray()).ToArray();
        bool Allowed(int lbn, ReadOnlySpan<byte> block)
        {
            foreach (var c in allowed[lbn])
            {
                if (block.SequenceEqual(c))
                    return true;
            }
            return false;
        }
        var errors = new List<string>();
        var final = new byte[Lbns * VdoConstants.BlockSize];
        using (var volume = Volume.Format(device, TestPools.Small(), options))
        {
            var workers = Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
            {
                var random = new Random(700 + t);
                var extent = new byte[Lbns * VdoConstants.BlockSize];
                for (var op = 0; op < OpsPerThread; op++)
                {
                    var length = random.Next(3) == 0 ? 1 + random.Next(Lbns) : 1 + random.Next(4);
                    var lbn = random.Next(Lbns - length + 1);
                    var kind = random.Next(10);
                    var span = extent.AsSpan(0, length * VdoConstants.BlockSize);
                    if (kind < 6)
                    {
                        for (var j = 0; j < length; j++)
                            ContentOf(lbn + j, random.Next(8)).CopyTo(extent, j * VdoConstants.BlockSize);
                        volume.WriteBlocks(lbn, span);
                    }
                    else if (kind < 9)
                    {
                        volume.ReadBlocks(lbn, span);
                        for (var j = 0; j < length; j++)
                        {
                            if (!Allowed(lbn + j, span.Slice(j * VdoConstants.BlockSize, VdoConstants.BlockSize)))
                            {
                                lock (errors)
                                    errors.Add($"thread {t} op {op}: LBN {lbn + j} read back a block never written there");
                            }
                        }
                    }
                    else
                    {
                        volume.Discard(lbn, length);
                    }
                }
            })).ToArray();
            Assert.That(Task.WaitAll(workers, Deadline), Is.True, () => $"writers did not finish: deadlock or lost acknowledgement ({scheme}; {volume.DescribeState()})");
            Assert.That(errors, Is.Empty);
            volume.ReadBlocks(0, final);
            for (var l = 0; l < Lbns; l++)
                Assert.That(Allowed(l, final.AsSpan(l * VdoConstants.BlockSize, VdoConstants.BlockSize)), $"LBN {l} holds a block never written there");
            volume.Flush();
            Assert.That(volume.Check(), Is.Empty);
        }
        using var reopened = Volume.Open(device, options);
        var back = new byte[final.Length];
        reopened.ReadBlocks(0, back);
        Assert.That(back, Is.EqualTo(final), "after close and reopen every LBN holds what it held before");
        Assert.That(reopened.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(300_000)]
    public void ConcurrentMultiBlockWritesAndReadsMatchTheModel([Values(1, 16)] int lockBatch)
    {
        // Each thread owns a region (so the model knows it), the regions interleave over every
        // block-map page, and the contents repeat across threads (concurrent identical writes).
        const int Threads = 6, RegionBlocks = 96, OpsPerThread = 300;
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        var options = TestPools.Options(scheme, o => o.Pipeline.LockBatch = lockBatch);
        var model = new byte[Threads][][];
        long LbnOf(int t, int k) => ((k % 4) * Geometry.EntriesPerPage) + (t * (RegionBlocks / 4)) + (k / 4);
        var errors = new List<string>();
        using (var volume = Volume.Format(device, TestPools.Small(), options))
        {
            var workers = Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
            {
                var mine = model[t] = Enumerable.Range(0, RegionBlocks).Select(_ => Content.Zero()).ToArray();
                var random = new Random(300 + t);
                var extent = new byte[32 * VdoConstants.BlockSize];
                for (var op = 0; op < OpsPerThread; op++)
                {
                    // A run of consecutive LBNs inside one quarter of the region (they are consecutive there).
                    var quarter = random.Next(4);
                    var length = 1 + random.Next(Math.Min(32, RegionBlocks / 4));
                    var start = random.Next((RegionBlocks / 4) - length + 1);
                    var k0 = (start * 4) + quarter;
                    var lbn = LbnOf(t, k0);
                    var kind = random.Next(10);
                    if (kind < 6)
                    {
                        for (var j = 0; j < length; j++)
                        {
                            var c = random.Next(3) switch { 0 => Content.Zero(), 1 => Content.Of(j % 4, random.Next(6)), _ => Content.Compressible(random.Next(40)) };
                            c.CopyTo(extent, j * VdoConstants.BlockSize);
                            mine[k0 + (4 * j)] = c;
                        }
                        volume.WriteBlocks(lbn, extent.AsSpan(0, length * VdoConstants.BlockSize));
                    }
                    else if (kind < 9)
                    {
                        volume.ReadBlocks(lbn, extent.AsSpan(0, length * VdoConstants.BlockSize));
                        for (var j = 0; j < length; j++)
                        {
                            if (!extent.AsSpan(j * VdoConstants.BlockSize, VdoConstants.BlockSize).SequenceEqual(mine[k0 + (4 * j)]))
                            {
                                lock (errors)
                                    errors.Add($"thread {t} op {op}: LBN {lbn + j} read back other data than last written");
                            }
                        }
                    }
                    else
                    {
                        volume.Discard(lbn, length);
                        for (var j = 0; j < length; j++)
                            mine[k0 + (4 * j)] = Content.Zero();
                    }
                }
            })).ToArray();
            Assert.That(Task.WaitAll(workers, Deadline), Is.True, () => $"writers did not finish: deadlock or lost acknowledgement ({scheme}; {volume.DescribeState()})");
            Assert.That(errors, Is.Empty);
            volume.Flush();
            Assert.That(volume.Check(), Is.Empty);
        }
        using var reopened = Volume.Open(device, options);
        var back = new byte[VdoConstants.BlockSize];
        for (var t = 0; t < Threads; t++)
        {
            for (var k = 0; k < RegionBlocks; k++)
            {
                reopened.Read(LbnOf(t, k), back);
                Assert.That(back, Is.EqualTo(model[t][k]), $"thread {t}'s LBN {LbnOf(t, k)} after close and reopen");
            }
        }
        Assert.That(reopened.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(300_000)]
    public void RequestsLargerThanTheRequestPoolFromManyCallersAllCompleteWithTheirData()
    {
        // Every request is larger than the whole pool, and the callers write the same contents at
        // once: they keep finding the pool taken, or a duplicate of their block being written
        // outside the lock by another caller, and must wait for it rather than fail or spin forever.
        const int Threads = 4, Requests = 12, Blocks = 48;
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        var options = TestPools.Options(scheme, o => o.Pipeline.RequestPoolSize = 24);
        byte[] ContentOf(int op, int j) => Content.Random(((op * Blocks) + j) % 200);
        long LbnOf(int t, int op) => ((long)t * Requests * Blocks) + ((long)op * Blocks);
        var volume = Volume.Format(device, TestPools.Small(), options);
        CloseUnlessStuck(volume, "writers did not finish: a caller waiting for the pool or a duplicate was never woken", () =>
        {
            var workers = Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
            {
                var request = new byte[Blocks * VdoConstants.BlockSize];
                for (var op = 0; op < Requests; op++)
                {
                    for (var j = 0; j < Blocks; j++)
                        ContentOf(op, j).CopyTo(request, j * VdoConstants.BlockSize);
                    volume.WriteBlocks(LbnOf(t, op), request);
                }
            })).ToArray();
            return Task.WaitAll(workers, Deadline);
        }, () =>
        {
            var back = new byte[VdoConstants.BlockSize];
            for (var t = 0; t < Threads; t++)
            {
                for (var op = 0; op < Requests; op++)
                {
                    for (var j = 0; j < Blocks; j++)
                    {
                        volume.Read(LbnOf(t, op) + j, back);
                        Assert.That(back, Is.EqualTo(ContentOf(op, j)), $"thread {t}, request {op}, block {j}");
                    }
                }
            }
            Assert.That(volume.Check(), Is.Empty);
            // Dedupe stays best effort under races (a block pinned by another request is written anew), but it works.
            Assert.That(volume.GetStatistics().DataBlocksUsed, Is.LessThan(400), "the same 200 contents were written by every caller: most are shared");
        });
    }

    [Test]
    [CancelAfter(300_000)]
    public void CallersWhosePartialBatchesHoldTheWholePoolAllFinish()
    {
        // Structure locking runs a caller's requests in batches (Pipeline:LockBatch), and a batch
        // runs when full: callers that each hold a partial batch while the pool is empty must run
        // them rather than wait for the pool forever. Eight callers start together on a pool of 16.
        const int Threads = 8, Requests = 6, Blocks = 48;
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        var options = TestPools.Options(scheme, o =>
        {
            o.Pipeline.RequestPoolSize = 16;
            if (scheme == SchemeKind.StructureLocking)
                o.Pipeline.LockBatch = 8;
        });
        long LbnOf(int t, int op) => ((long)t * Requests * Blocks) + ((long)op * Blocks);
        var volume = Volume.Format(device, TestPools.Small(), options);
        CloseUnlessStuck(volume, "writers did not finish: callers waited for the pool with requests of their own unrun", () =>
        {
            using var start = new Barrier(Threads);
            var writers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
            {
                var request = new byte[Blocks * VdoConstants.BlockSize];
                for (var j = 0; j < Blocks; j++)
                    Content.Random((t * Blocks) + j).CopyTo(request, j * VdoConstants.BlockSize);
                start.SignalAndWait();
                for (var op = 0; op < Requests; op++)
                    volume.WriteBlocks(LbnOf(t, op), request);
            }) { IsBackground = true }).ToArray();
            foreach (var w in writers)
                w.Start();
            return writers.All(w => w.Join(Deadline));
        }, () =>
        {
            var back = new byte[VdoConstants.BlockSize];
            for (var t = 0; t < Threads; t++)
            {
                for (var j = 0; j < Blocks; j++)
                {
                    volume.Read(LbnOf(t, Requests - 1) + j, back);
                    Assert.That(back, Is.EqualTo(Content.Random((t * Blocks) + j)), $"thread {t}, block {j}");
                }
            }
            Assert.That(volume.Check(), Is.Empty);
        });
    }

    [Test]
    [CancelAfter(300_000)]
    public void ReadsLargerThanTheRequestPoolFromManyCallersComplete()
    {
        // A read keeps its requests until its blocks are copied out: a read of more blocks than
        // the pool holds, or readers each holding part of the pool, must not wait for the rest.
        const int Threads = 4, Reads = 20, Blocks = 48;
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        var options = TestPools.Options(scheme, o => o.Pipeline.RequestPoolSize = 16);
        var data = new byte[Threads * Blocks * VdoConstants.BlockSize];
        for (var i = 0; i < Threads * Blocks; i++)
            Content.Random(i).CopyTo(data, i * VdoConstants.BlockSize);
        var volume = Volume.Format(device, TestPools.Small(), options);
        var mismatches = 0;
        CloseUnlessStuck(volume, "readers did not finish: a read waited for the pool while holding part of it", () =>
        {
            volume.WriteBlocks(0, data);
            using var start = new Barrier(Threads);
            var readers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
            {
                var back = new byte[Blocks * VdoConstants.BlockSize];
                var mine = data.AsSpan(t * back.Length, back.Length).ToArray();
                start.SignalAndWait();
                for (var r = 0; r < Reads; r++)
                {
                    volume.ReadBlocks(t * Blocks, back);
                    if (!back.AsSpan().SequenceEqual(mine))
                        Interlocked.Increment(ref mismatches);
                }
            }) { IsBackground = true }).ToArray();
            foreach (var r in readers)
                r.Start();
            return readers.All(r => r.Join(Deadline));
        }, () => Assert.That(mismatches, Is.Zero, "reads returned what was written"));
    }

    /// <summary>
    /// Runs callers that may hang (<paramref name="callersFinish"/> starts them and returns whether
    /// they finished by <see cref="Deadline"/>), then <paramref name="check"/>, and closes the
    /// volume. A stuck run fails with <paramref name="whyStuck"/> and leaves the volume open:
    /// closing it would wait for the stuck callers, so the test would hang instead of failing.
    /// </summary>
    private static void CloseUnlessStuck(Volume volume, string whyStuck, Func<bool> callersFinish, Action check)
    {
        var stuck = true;
        try
        {
            stuck = !callersFinish();
            Assert.That(stuck, Is.False, whyStuck);
            check();
        }
        finally
        {
            if (!stuck)
                volume.Dispose();
        }
    }

    /// <summary>The test's LBN <paramref name="i"/>, spread over five block-map pages so every logical zone has some.</summary>
    private static long LbnOf(int i) => ((i % 5) * Geometry.EntriesPerPage) + (i / 5);

    [Test]
    [CancelAfter(300_000)]
    public void UnserializedWritesToTheSameLbnsLeaveOneOfTheLastWritesAndReadsNeverSeeTornData()
    {
        const int Writers = 4, Readers = 2, Lbns = 8, WritesPerThread = 1200;
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks());
        using var volume = Volume.Format(device, TestPools.Small(), TestPools.Options(scheme));
        var last = new int[Writers, Lbns];
        for (var t = 0; t < Writers; t++)
        {
            for (var l = 0; l < Lbns; l++)
                last[t, l] = -1;
        }
        var done = 0;
        var errors = new List<string>();
        var writers = Enumerable.Range(0, Writers).Select(t => Task.Run(() =>
        {
            var random = new Random(100 + t);
            for (var i = 0; i < WritesPerThread; i++)
            {
                var lbn = random.Next(Lbns);
                volume.Write(lbn, Stamped(lbn, t, i, compressible: (i & 1) == 0));
                last[t, lbn] = i;
            }
        })).ToList();
        var readers = Enumerable.Range(0, Readers).Select(r => Task.Run(() =>
        {
            var buffer = new byte[VdoConstants.BlockSize];
            var random = new Random(200 + r);
            while (Volatile.Read(ref done) == 0)
            {
                var lbn = random.Next(Lbns);
                volume.Read(lbn, buffer);
                if (!IsZero(buffer) && !IsStampedFor(buffer, lbn))
                {
                    lock (errors)
                        errors.Add($"reader {r}: LBN {lbn} returned a block no write of it produced");
                }
            }
        })).ToList();
        var finished = Task.WaitAll([.. writers], Deadline);
        Volatile.Write(ref done, 1);
        Assert.That(finished && Task.WaitAll([.. readers], Deadline), Is.True, "requests did not finish: deadlock or lost acknowledgement");
        Assert.That(errors, Is.Empty);
        volume.Flush();
        var back = new byte[VdoConstants.BlockSize];
        for (var lbn = 0; lbn < Lbns; lbn++)
        {
            volume.Read(lbn, back);
            Assert.That(IsStampedFor(back, lbn), Is.True, $"LBN {lbn} holds a block no write of it produced");
            var t = BinaryPrimitives.ReadInt32LittleEndian(back.AsSpan(8));
            var i = BinaryPrimitives.ReadInt32LittleEndian(back.AsSpan(12));
            Assert.That(i, Is.EqualTo(last[t, lbn]), $"LBN {lbn} holds an older write of thread {t} than its last");
        }
        Assert.That(volume.Check(), Is.Empty);
    }

    /// <summary>A block that says which write made it: LBN, thread, sequence, then filler derived from them.</summary>
    private static byte[] Stamped(long lbn, int thread, int sequence, bool compressible)
    {
        var b = compressible ? Content.Compressible((thread * 7) + (sequence % 5)) : Content.Random(sequence + (thread * 100_000));
        BinaryPrimitives.WriteInt64LittleEndian(b, lbn);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), thread);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(12), sequence);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(16), compressible ? 1 : 0);
        return b;
    }

    private static bool IsStampedFor(byte[] block, long lbn)
    {
        if (BinaryPrimitives.ReadInt64LittleEndian(block) != lbn)
            return false;
        var t = BinaryPrimitives.ReadInt32LittleEndian(block.AsSpan(8));
        var i = BinaryPrimitives.ReadInt32LittleEndian(block.AsSpan(12));
        var compressible = BinaryPrimitives.ReadInt32LittleEndian(block.AsSpan(16)) == 1;
        return t is >= 0 and < 64 && i >= 0 && block.AsSpan().SequenceEqual(Stamped(lbn, t, i, compressible));
    }

    private static bool IsZero(byte[] block) => !block.AsSpan().ContainsAnyExcept((byte)0);
}
