using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>The data half of <see cref="Volume.Scrub"/>: who uses each block, the verifying read, and the quiet re-check of what failed.</summary>
internal static class Scrubber
{
    /// <summary>Every data or packed block in use, in PBN order, with the LBNs that map to it (quiet volume).</summary>
    public static SortedDictionary<long, List<(long Lbn, BlockMapping Mapping)>> Users(VolumeZones z)
    {
        var users = new SortedDictionary<long, List<(long, BlockMapping)>>();
        z.BlockMap.ForEachMapping(
            (lbn, m) =>
            {
                if (!m.HasPhysicalBlock || !z.Geometry.IsDataBlock(m.Pbn))
                    return; // mappings outside the data area are reported by the structural check
                if (!users.TryGetValue(m.Pbn, out var list))
                    users.Add(m.Pbn, list = []);
                list.Add((lbn, m));
            },
            _ => { }); // a damaged page is reported by the metadata scrub
        return users;
    }

    /// <summary>Reads every block in <paramref name="users"/> and returns those with a mapping it does not match (volume serving).</summary>
    public static Dictionary<long, List<(long Lbn, BlockMapping Mapping)>> Verify(
        VolumeZones z,
        SortedDictionary<long, List<(long Lbn, BlockMapping Mapping)>> users,
        IProgress<ScrubProgress>? progress,
        CancellationToken cancel,
        out long dataBlocks,
        out long packedBlocks,
        out long fragments)
    {
        dataBlocks = packedBlocks = fragments = 0;
        var suspects = new Dictionary<long, List<(long, BlockMapping)>>();
        var block = new byte[VdoConstants.BlockSize];
        var scratch = new byte[VdoConstants.BlockSize];
        var done = 0L;
        foreach (var (pbn, refs) in users)
        {
            cancel.ThrowIfCancellationRequested();
            z.Device.Read(pbn, block);
            var failing = Failing(z, pbn, refs, block, scratch, out var slots);
            if (slots > 0)
            {
                packedBlocks++;
                fragments += slots;
            }
            else
                dataBlocks++;
            if (failing.Count > 0)
                suspects.Add(pbn, failing);
            if (++done % 256 == 0 || done == users.Count)
                progress?.Report(new ScrubProgress(done, users.Count, "data"));
        }
        return suspects;
    }

    /// <summary>
    /// Reads each suspect again with the volume quiet and keeps the LBNs that still map to it
    /// and still fail: those are damage, counted, logged and reported with their images.
    /// </summary>
    public static void Confirm(VolumeZones z, Dictionary<long, List<(long Lbn, BlockMapping Mapping)>> suspects, IReadOnlyList<ImageEntry> images, List<ScrubDamage> damage)
    {
        var block = new byte[VdoConstants.BlockSize];
        var scratch = new byte[VdoConstants.BlockSize];
        foreach (var (pbn, refs) in suspects.OrderBy(s => s.Key))
        {
            var current = refs.Where(r => z.BlockMap.Get(r.Lbn) == r.Mapping).ToList();
            if (current.Count == 0)
                continue; // rewritten while it was read
            z.Device.Read(pbn, block);
            var failing = Failing(z, pbn, current, block, scratch, out _);
            if (failing.Count == 0)
                continue;
            var (first, firstMapping) = failing[0];
            z.ReadCheck.Failed(first, firstMapping); // one count and one log line per damaged block
            var packed = firstMapping.IsCompressed;
            var problem = packed
                ? $"fragment(s) {string.Join(", ", failing.Select(f => f.Mapping.Slot).Distinct())} fail their data checksum or do not decompress"
                : "fails its data checksum";
            damage.Add(new ScrubDamage(packed ? "packed block" : "data block", pbn, problem, [.. failing.Select(f => Reference(f.Lbn, f.Mapping, images))]));
        }
    }

    /// <summary>The LBNs among <paramref name="refs"/> whose data in <paramref name="block"/> fails; <paramref name="slots"/> is the number of fragments decompressed (0 for a whole block).</summary>
    private static List<(long Lbn, BlockMapping Mapping)> Failing(VolumeZones z, long pbn, List<(long Lbn, BlockMapping Mapping)> refs, byte[] block, byte[] scratch, out int slots)
    {
        var failing = new List<(long, BlockMapping)>();
        slots = 0;
        if (!refs[0].Mapping.IsCompressed)
        {
            foreach (var r in refs)
            {
                if (!z.ReadCheck.Matches(r.Mapping, block))
                    failing.Add(r);
            }
            return failing;
        }
        foreach (var group in refs.GroupBy(r => r.Mapping.Slot))
        {
            slots++;
            var decoded = true;
            try
            {
                PackedBlock.Decompress(block, group.Key, scratch, pbn);
            }
            catch (CorruptMetadataException)
            {
                decoded = false;
            }
            foreach (var r in group)
            {
                if (!decoded || !z.ReadCheck.Matches(r.Mapping, scratch))
                    failing.Add(r);
            }
        }
        return failing;
    }

    private static ScrubReference Reference(long lbn, BlockMapping m, IReadOnlyList<ImageEntry> images)
    {
        var slot = m.IsCompressed ? m.Slot : -1;
        foreach (var image in images)
        {
            if (lbn >= image.FirstLbn && lbn < image.FirstLbn + image.ExtentBlocks)
                return new ScrubReference(lbn, image.Name, lbn - image.FirstLbn, slot);
        }
        return new ScrubReference(lbn, null, -1, slot);
    }
}
