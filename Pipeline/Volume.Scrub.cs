using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary><c>dvdo scrub</c>: every used block read and verified.</summary>
public sealed partial class Volume
{
    /// <summary>
    /// Reads and verifies every metadata block (and the structural check of <see cref="Check"/>)
    /// and every data block and packed fragment in use against the checksums kept with their
    /// mappings; reports each damaged block with every LBN and image that maps to it. The
    /// metadata and the list of mappings are taken with the volume quiet (briefly: no block
    /// is read then but metadata); the data blocks are read while the volume keeps serving, and
    /// a block that fails is read again, quiet, against its LBNs' mappings at that moment, so a
    /// block rewritten during the scrub is never reported. Each damaged data block is counted in
    /// <see cref="PersistentCounters.DataChecksumFailures"/> and logged. Changes nothing.
    /// </summary>
    public ScrubReport Scrub(IProgress<ScrubProgress>? progress = null, CancellationToken cancel = default)
    {
        var damage = new List<ScrubDamage>();
        long metadata = 0;
        SortedDictionary<long, List<(long Lbn, BlockMapping Mapping)>> users = null!;
        IReadOnlyList<ImageEntry> images;
        lock (_sync)
        {
            CheckOpen();
            if (ReadOnlyReason is null)
                FlushGuarded();
            progress?.Report(new ScrubProgress(0, 0, "metadata"));
            Quiet(() =>
            {
                metadata = MetadataScrub.Run(_z.Geometry, _z.Device, _z.BlockMap, (region, pbn, problem) => damage.Add(new ScrubDamage(region, pbn, problem, [])));
                foreach (var problem in VolumeChecker.Check(_z))
                    damage.Add(new ScrubDamage("consistency", -1, problem, []));
                users = Scrubber.Users(_z);
            });
            images = _catalog.Images;
        }

        var suspects = Scrubber.Verify(_z, users, progress, cancel, out var data, out var packed, out var fragments);
        if (suspects.Count > 0)
        {
            lock (_sync)
            {
                CheckOpen();
                Quiet(() => Scrubber.Confirm(_z, suspects, images, damage));
            }
        }
        return new ScrubReport { DataBlocks = data, PackedBlocks = packed, Fragments = fragments, MetadataBlocks = metadata, Damage = damage };
    }
}
