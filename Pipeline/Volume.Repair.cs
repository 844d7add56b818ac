using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>The forced rebuild behind <c>dvdo check --repair</c>.</summary>
public sealed partial class Volume
{
    /// <summary>
    /// VDO's forced rebuild: recounts every reference from the block map (the truth it trusts),
    /// rewrites every reference count that differs (leaked and provisional blocks become free),
    /// writes them all with a checkpoint, clears read-only mode and returns the pool to service.
    /// Refuses, changing nothing, when the block map itself is damaged in a way no count can
    /// express (a block owned twice, a mapping outside the data area or to a missing fragment, an
    /// unreadable page) or when this open already failed (its memory is not trusted: close the
    /// pool and repair it on the next open). With <paramref name="dropDamaged"/> it first reads
    /// every data block and fragment in use and unmaps each LBN whose data fails its checksum
    /// (it then reads as zeros instead of failing; each is reported); without it such mappings
    /// are kept, and their reads keep failing.
    /// </summary>
    public RepairResult Repair(bool dropDamaged = false)
    {
        lock (_sync)
        {
            CheckOpen();
            if (_failedHere)
                throw new ReadOnlyVolumeException($"{ReadOnlyReason}; this open failed, so its state is not trusted: close the pool and run 'dvdo check --repair' on it");
            RepairResult? result = null;
            Quiet(() => result = Rebuild(dropDamaged));
            return result!;
        }
    }

    private RepairResult Rebuild(bool dropDamaged)
    {
        var g = _z.Geometry;
        var damage = new List<string>();
        var census = VolumeChecker.CountMappings(_z, damage.Add);
        var changes = new List<string>();
        var dropped = damage.Count == 0 && dropDamaged ? DropDamaged(changes) : 0;
        if (dropped > 0)
            census = VolumeChecker.CountMappings(_z, damage.Add); // the dropped mappings no longer count
        for (var s = 0; s < g.SlabCount && damage.Count == 0; s++)
        {
            var expected = census.Expected[s];
            for (var b = 0; b < g.SlabBlocks; b++)
            {
                if (expected[b] > VdoConstants.MaximumReferenceCount && (census.Kinds[s][b] & VolumeChecker.Census.BlockMapPage) == 0)
                    damage.Add($"PBN {g.SlabDataStart(s) + b} has {expected[b]} mappings, more than the {VdoConstants.MaximumReferenceCount} a count can hold");
            }
        }
        if (damage.Count > 0)
        {
            var shown = string.Join("; ", damage.Take(20)) + (damage.Count > 20 ? $"; and {damage.Count - 20} more" : "");
            throw new CorruptMetadataException("block map", $"repair cannot rebuild the reference counts from it: {shown}");
        }

        var counts = new byte[g.SlabCount][];
        for (var s = 0; s < g.SlabCount; s++)
        {
            var actual = _z.Depot.CountsOfSlab(s);
            counts[s] = new byte[g.SlabBlocks];
            for (var b = 0; b < g.SlabBlocks; b++)
            {
                var want = (census.Kinds[s][b] & VolumeChecker.Census.BlockMapPage) != 0
                    ? SlabDepot.BlockMapPageCount
                    : (byte)census.Expected[s][b];
                counts[s][b] = want;
                if (actual[b] != want)
                    changes.Add(Describe(g.SlabDataStart(s) + b, actual[b], want, census.Kinds[s][b]));
            }
        }
        var cleared = ReadOnlyReason;
        foreach (var change in changes)
            LogMessages.Repaired(_z.Hooks.Logger, change);
        _z.Depot.ReplaceAll(s => counts[s]);
        _z.Depot.SetBlockMapPageTotal(_z.BlockMap.AllocatedPages);
        _z.SetReadOnlyReason(null);
        try
        {
            _z.Checkpoint(clean: false, writeRefCounts: true); // every count written, then the superblock without the read-only mark
        }
        catch (Exception e) when (Failed(e))
        {
            throw;
        }
        if (cleared is not null)
            LogMessages.Repaired(_z.Hooks.Logger, $"read-only mode cleared (was: {cleared})");
        return new RepairResult { Changes = changes, ClearedReadOnlyReason = cleared, DroppedMappings = dropped };
    }

    /// <summary>Unmaps every LBN whose data block or fragment fails its checksum (quiet volume); returns how many.</summary>
    private int DropDamaged(List<string> changes)
    {
        var suspects = Scrubber.Verify(_z, Scrubber.Users(_z), null, CancellationToken.None, out _, out _, out _);
        var dropped = 0;
        foreach (var (pbn, refs) in suspects.OrderBy(s => s.Key))
        {
            _z.ReadCheck.Failed(refs[0].Lbn, refs[0].Mapping);
            foreach (var (lbn, mapping) in refs)
            {
                _z.BlockMap.Set(lbn, BlockMapping.Unmapped, 0);
                _z.AddLogicalBlocksUsed(-1);
                changes.Add($"LBN {lbn}: mapping to {mapping} dropped: the block fails its data checksum (the LBN now reads as zeros)");
                dropped++;
            }
        }
        return dropped;
    }

    private static string Describe(long pbn, byte was, byte now, byte kind)
    {
        var old = was == VdoConstants.ProvisionalReferenceCount ? "provisional" : was.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var what = kind switch
        {
            0 => now == 0 ? "no mapping: freed" : "",
            VolumeChecker.Census.BlockMapPage => "block-map page",
            1 => $"{now} mapping(s)",
            _ => $"packed block, {now} fragment mapping(s)",
        };
        return $"PBN {pbn}: reference count {old} -> {now} ({what})";
    }
}
