using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The audit behind <c>dvdo check</c> (I7): recount every mapping from the block map and
/// compare with the reference counts; report blocks owned twice, mappings outside the data
/// area, compressed mappings to slots a packed block does not have, and leftover provisional
/// allocations. Runs on a quiescent volume.
/// </summary>
internal static class VolumeChecker
{
    private const int MaxReported = 100;

    /// <summary>What the block map says each data block should hold: mappings per block, and what kind of owner.</summary>
    internal sealed class Census(Geometry g)
    {
        /// <summary>Mappings to each block of each slab (saturating).</summary>
        public readonly ushort[][] Expected = [.. Enumerable.Range(0, g.SlabCount).Select(_ => new ushort[g.SlabBlocks])];

        /// <summary>Per block: 1 uncompressed, 2 compressed, 4 block-map page (or'ed).</summary>
        public readonly byte[][] Kinds = [.. Enumerable.Range(0, g.SlabCount).Select(_ => new byte[g.SlabBlocks])];

        public const byte BlockMapPage = 4;
    }

    /// <summary>
    /// Walks the block-map root and every mapping (the block map is the truth a forced rebuild
    /// trusts), reporting what no reference count can express: blocks owned twice, mappings
    /// outside the data area or to fragments a packed block does not have, damaged pages.
    /// </summary>
    public static Census CountMappings(VolumeZones z, Action<string> report)
    {
        var g = z.Geometry;
        var census = new Census(g);
        var expected = census.Expected;
        var kinds = census.Kinds;
        var root = z.BlockMap.RootEntries;
        for (var p = 0; p < root.Length; p++)
        {
            if (root[p] == 0)
                continue;
            if (!g.IsDataBlock(root[p]))
            {
                report($"block-map page {p} is at PBN {root[p]}, outside the slab data area");
                continue;
            }
            var (slab, sbn) = g.Locate(root[p]);
            if ((kinds[slab][sbn] & 4) != 0)
                report($"PBN {root[p]} holds two block-map pages (double-owned)");
            kinds[slab][sbn] |= 4;
        }

        var packed = new byte[VdoConstants.BlockSize];
        var packedPbn = -1L;
        z.BlockMap.ForEachMapping(
            (lbn, m) =>
            {
                if (!m.HasPhysicalBlock)
                    return;
                if (!g.IsDataBlock(m.Pbn))
                {
                    report($"LBN {lbn} maps to PBN {m.Pbn}, outside the slab data area");
                    return;
                }
                var (slab, sbn) = g.Locate(m.Pbn);
                var kind = m.IsCompressed ? (byte)2 : (byte)1;
                var had = kinds[slab][sbn];
                if ((had & 4) != 0)
                    report($"LBN {lbn} maps to PBN {m.Pbn}, which is a block-map page (double-owned)");
                else if (had != 0 && had != kind)
                    report($"PBN {m.Pbn} is mapped both as a whole block and as a packed block (double-owned; LBN {lbn})");
                kinds[slab][sbn] |= kind;
                if (expected[slab][sbn] < ushort.MaxValue)
                    expected[slab][sbn]++;
                if (m.IsCompressed)
                {
                    if (packedPbn != m.Pbn)
                    {
                        z.Device.Read(m.Pbn, packed);
                        packedPbn = m.Pbn;
                    }
                    var fragments = PackedBlock.FragmentCount(packed);
                    if (fragments < 0)
                        report($"LBN {lbn} maps to slot {m.Slot} of PBN {m.Pbn}, which is not a valid packed block");
                    else if (m.Slot >= fragments)
                        report($"LBN {lbn} maps to slot {m.Slot} of PBN {m.Pbn}, which holds only {fragments} fragments");
                }
            },
            e => report(e.Message));

        return census;
    }

    public static IReadOnlyList<string> Check(VolumeZones z)
    {
        var g = z.Geometry;
        var problems = new List<string>();
        void Report(string p)
        {
            if (problems.Count < MaxReported)
                problems.Add(p);
            else if (problems.Count == MaxReported)
                problems.Add("... more inconsistencies not listed");
        }

        var census = CountMappings(z, Report);
        var expected = census.Expected;
        var kinds = census.Kinds;
        for (var s = 0; s < g.SlabCount; s++)
        {
            var counts = z.Depot.CountsOfSlab(s);
            for (var b = 0; b < g.SlabBlocks; b++)
            {
                var actual = counts[b];
                var pbn = g.SlabDataStart(s) + b;
                if ((kinds[s][b] & 4) != 0)
                {
                    if (actual != SlabDepot.BlockMapPageCount)
                        Report($"PBN {pbn} holds a block-map page but its reference count is {actual}");
                    continue;
                }
                int want = expected[s][b];
                if (actual == VdoConstants.ProvisionalReferenceCount)
                    Report($"PBN {pbn} is provisionally allocated with no write in flight (leaked)");
                else if (want > VdoConstants.MaximumReferenceCount)
                    Report($"PBN {pbn} has {want} mappings, more than the {VdoConstants.MaximumReferenceCount} allowed");
                else if (actual != want)
                    Report($"PBN {pbn} has reference count {actual} but {want} mapping(s)");
            }
        }

        if (z.JournalZone.PendingChanges > 0)
            Report($"{z.JournalZone.PendingChanges} reference changes still wait for a durable journal entry after a flush");
        return problems;
    }
}
