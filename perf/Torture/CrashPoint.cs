using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Torture;

/// <summary>
/// One crash point: a small pool on the crash-simulating device, a random workload of one kind,
/// a power cut (in the middle of an operation or between two), the unflushed writes kept at
/// random and torn at 512-byte sectors, sometimes more power cuts during the recovery itself;
/// then the recovered pool is read back against the model: every flushed write is there, every
/// other block is one of the values written to it since (never torn, never another block's
/// data), every image created or removed is so, and the check is clean.
/// </summary>
internal sealed class CrashPoint(SchemeKind scheme, int seed, IReadOnlyList<string>? sets = null)
{
    private const int RawLbns = 48;
    private const int Spread = 811;              // raw LBNs each on a block-map page of their own
    private const int ImageBlocks = Geometry.EntriesPerPage; // one block-map page per image
    private const int ImageLbnsUsed = 16;
    private const int ImageNames = 6;
    private static readonly long s_logical = (RawLbns * Spread) + 1;

    private readonly Random _random = new(seed);
    private readonly PoolModel _model = new();
    private readonly Dictionary<int, byte[]> _blocks = [];

    /// <summary>The workload this point runs.</summary>
    public WorkloadKind Kind { get; private set; }

    /// <summary>True when the power went out in the middle of the workload (not after it).</summary>
    public bool CutMidWorkload { get; private set; }

    /// <summary>Power cuts during recovery itself before the recovery that is verified.</summary>
    public int RecoveryCuts { get; private set; }

    /// <summary>Runs the point; returns null when it held, else what went wrong.</summary>
    public string? Run()
    {
        Kind = (WorkloadKind)_random.Next(Enum.GetValues<WorkloadKind>().Length);
        var policy = _random.Next(4) == 0 ? WritePolicy.Sync : WritePolicy.Async;
        var options = Options(policy);
        var hooks = new VolumeHooks { BlockMapCachePages = _random.Next(2) == 0 ? 8 : 1024 };
        var format = new FormatParameters
        {
            LogicalBlocks = s_logical,
            MaxLogicalBlocks = 1L << 20,
            SlabBlocks = 1024,
            JournalBlocks = 16,
            SlabJournalBlocks = 16,
            CatalogBlocks = 2,
            IndexBlocks = 16,
        };
        var probe = Geometry.Compute(format with { PhysicalBlocks = 0 }, 1L << 30, 1);
        var device = new CrashSimulatingDevice(probe.DepotStart + (4 * probe.SlabStride));
        var volume = Volume.Format(device, format, options, hooks);
        try
        {
            var error = RunWorkload(volume, device);
            if (error is not null)
                return error;
        }
        finally
        {
            CloseAfterPowerCut(volume, device);
        }
        return Recover(device, options, hooks);
    }

    private string? RunWorkload(Volume volume, CrashSimulatingDevice device)
    {
        var maxOps = _random.Next(1, 400);
        if (_random.Next(2) == 0)
            device.CutPowerAfter(_random.Next(1, maxOps * 2));
        var flushPermille = new[] { 0, 5, 30, 100 }[_random.Next(4)];
        var buffer = new byte[VdoConstants.BlockSize];
        string? pendingImage = null;
        long pendingFirst = -1;
        try
        {
            for (var k = 0; k < maxOps; k++)
            {
                var op = _random.Next(1000);
                if (op < flushPermille)
                {
                    volume.Flush();
                    _model.Flushed();
                    continue;
                }
                if (Kind == WorkloadKind.Images && op < flushPermille + 60)
                {
                    var name = $"img{_random.Next(ImageNames)}";
                    if (_model.Images.TryGetValue(name, out var first))
                    {
                        (pendingImage, pendingFirst) = (name, first);
                        for (var i = 0; i < ImageLbnsUsed; i++)
                            _model.Written(first + i, 0); // a cut remove leaves it partly discarded
                        volume.RemoveImage(name);
                        _model.ImageRemoved(name);
                        for (var i = 0; i < ImageLbnsUsed; i++)
                            _model.Durable(first + i, 0);
                    }
                    else
                    {
                        (pendingImage, pendingFirst) = (name, -1);
                        var entry = volume.CreateImage(name, (long)ImageBlocks * VdoConstants.BlockSize);
                        _model.ImageCreated(name, entry.FirstLbn);
                        for (var i = 0; i < ImageLbnsUsed; i++)
                            _model.Durable(entry.FirstLbn + i, 0);
                    }
                    pendingImage = null;
                    continue;
                }
                var lbn = PickLbn();
                if (lbn < 0)
                    continue; // no image to write into yet
                if (op < 800)
                {
                    var value = PickValue(op);
                    _model.Written(lbn, value);
                    if (value == 0 && (Kind == WorkloadKind.Discards || _random.Next(2) == 0))
                        volume.Discard(lbn);
                    else
                        volume.Write(lbn, Block(value));
                    if (volume.Options.Volume.WritePolicy == WritePolicy.Sync)
                        _model.Durable(lbn, value);
                }
                else
                {
                    volume.Read(lbn, buffer);
                    if (!buffer.AsSpan().SequenceEqual(Block(_model.Latest(lbn))))
                        return $"LBN {lbn} read before the crash is not the value last written";
                }
            }
        }
        catch (Exception e) when (device.PowerCut && e is IOException or ReadOnlyVolumeException)
        {
            // The power went out in the middle of an operation: what it wrote stays merely possible.
            CutMidWorkload = true;
            if (pendingImage is not null)
                _model.ImageUncertain(pendingImage, pendingFirst);
        }
        return null;
    }

    private string? Recover(CrashSimulatingDevice device, VdoOptions options, VolumeHooks hooks)
    {
        var image = device.Crash(_random, tear: true);
        // Power cuts during recovery itself: recover from the image such a cut leaves.
        for (var again = _random.Next(3) == 0 ? _random.Next(1, 3) : 0; again > 0; again--)
        {
            var during = CrashSimulatingDevice.FromImage(image);
            image.Dispose();
            during.CutPowerAfter(_random.Next(1, 60));
            Volume? opened = null;
            try
            {
                opened = Volume.Open(during, options, hooks);
            }
            catch (Exception e) when (during.PowerCut && e is IOException or ReadOnlyVolumeException)
            {
                // cut part-way through recovery
            }
            RecoveryCuts++;
            image = during.Crash(_random, tear: true);
            if (opened is not null)
                CloseAfterPowerCut(opened, during);
        }

        using var recovered = Volume.Open(image, options, hooks);
        if (!recovered.Recovered)
            return "an unclean shutdown did not trigger recovery";
        if (recovered.ReadOnlyReason is { } reason)
            return $"the recovered pool is in read-only mode: {reason}";
        var buffer = new byte[VdoConstants.BlockSize];
        foreach (var lbn in LbnsToVerify(recovered))
        {
            recovered.Read(lbn, buffer);
            if (!_model.Allowed(lbn).Any(v => buffer.AsSpan().SequenceEqual(Block(v))))
                return $"LBN {lbn} reads data that was never written to it since the last flush (lost, torn or another block's)";
        }
        foreach (var (name, first) in _model.Images)
        {
            if (recovered.FindImage(name) is not { } found || found.FirstLbn != first)
                return $"image {name} was created (durably) but is missing after recovery";
        }
        foreach (var entry in recovered.Images)
        {
            if (!_model.Images.ContainsKey(entry.Name) && !_model.UncertainImages.ContainsKey(entry.Name))
                return $"image {entry.Name} was removed (durably) but is back after recovery";
        }
        var problems = recovered.Check();
        return problems.Count == 0 ? null : "check after recovery: " + string.Join("; ", problems.Take(5));
    }

    private IEnumerable<long> LbnsToVerify(Volume recovered)
    {
        if (Kind != WorkloadKind.Images)
            return Enumerable.Range(0, RawLbns).Select(i => (long)i * Spread);
        var lbns = new List<long>();
        foreach (var (name, first) in _model.Images.Concat(_model.UncertainImages))
        {
            if (first >= 0 && recovered.FindImage(name) is not null)
                lbns.AddRange(Enumerable.Range(0, ImageLbnsUsed).Select(i => first + i));
        }
        return lbns;
    }

    private long PickLbn()
    {
        if (Kind == WorkloadKind.Images)
        {
            if (_model.Images.Count == 0)
                return -1;
            var first = _model.Images.Values.ElementAt(_random.Next(_model.Images.Count));
            return first + _random.Next(ImageLbnsUsed);
        }
        var lbns = Kind == WorkloadKind.Overwrites ? 6 : RawLbns;
        return (long)_random.Next(lbns) * Spread;
    }

    /// <summary>The value to write: odd incompressible, even compressible, 0 zeros/discard; few distinct ones for dedupe.</summary>
    private int PickValue(int op) => Kind switch
    {
        WorkloadKind.Writes => (_random.Next(1_000_000) * 2) + 1,
        WorkloadKind.Overwrites => (_random.Next(200) * 2) + 1,
        WorkloadKind.Discards => op < 400 ? 0 : (_random.Next(100) * 2) + 1,
        WorkloadKind.DedupeHeavy => (_random.Next(4) * 2) + 1 + (_random.Next(8) == 0 ? 2 : 0),
        WorkloadKind.Compressible => (_random.Next(1, 60) * 2) + (_random.Next(10) == 0 ? 1 : 0),
        _ => _random.Next(10) == 0 ? 0 : _random.Next(1, 40),
    };

    private byte[] Block(int value)
    {
        if (!_blocks.TryGetValue(value, out var b))
            _blocks[value] = b = BlockContent.Make(value);
        return b;
    }

    private VdoOptions Options(WritePolicy policy)
    {
        var (logical, hash, physical) = scheme switch
        {
            SchemeKind.MessagePassing => (2, 3, 3),
            SchemeKind.StructureLocking => (3, 3, 2),
            _ => (1, 1, 1),
        };
        // The point's own settings, then the run's --set overrides (validated like any configuration).
        string[] own =
        [
            $"Pipeline:Scheme={scheme}", $"Volume:WritePolicy={policy}", "Volume:BlockMapCacheMb=1", "Index:MemoryMb=1",
            "Pipeline:PackerBins=8", $"Pipeline:LogicalZones={logical}", $"Pipeline:HashZones={hash}", $"Pipeline:PhysicalZones={physical}",
            $"Pipeline:LockBatch={(scheme == SchemeKind.StructureLocking ? 8 : 1)}",
        ];
        return VdoConfiguration.Load(sets: [.. own, .. sets ?? []], environment: false);
    }

    /// <summary>Closes a volume whose device has lost power (or loses it now): nothing more reaches the device.</summary>
    private static void CloseAfterPowerCut(Volume volume, CrashSimulatingDevice device)
    {
        device.CutPowerAfter(0);
        try
        {
            volume.Dispose();
        }
        catch (Exception e) when (e is IOException or VdoException)
        {
            // the close fails: the power is out
        }
    }
}
