using DataflowVdo.Config;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline;

/// <summary>Opening a pool to look at it (statistics, check) without writing to it.</summary>
public sealed partial class Volume
{
    /// <summary>True for a volume from <see cref="OpenForInspection"/>: it refuses writes and writes nothing.</summary>
    public bool OpenedForInspection { get; private set; }

    /// <summary>
    /// Opens a pool read-only, for inspection: not a byte of <paramref name="device"/> is written,
    /// not even the "dirty" mark or the clean close an ordinary open writes. A pool that was not
    /// closed cleanly is recovered in memory only (<see cref="Recovered"/> says so): the figures and
    /// the check are those of the recovered pool, and the next ordinary open recovers it for real.
    /// Writes, discards, image changes and growth throw <see cref="ReadOnlyVolumeException"/>.
    /// Not the read-only mode a volume enters after a failure (<see cref="ReadOnlyReason"/>).
    /// </summary>
    /// <param name="device">the pool's device; nothing is written to it.</param>
    /// <param name="options">the volume's options.</param>
    /// <param name="ownsDevice">whether disposing the volume disposes <paramref name="device"/>.</param>
    /// <param name="dedupeIndex">false: the saved dedupe index is not loaded (a restore or scrub only reads
    /// data; a large pool's index took 8% of a short restore command's CPU). The index figures then read zero.</param>
    public static Volume OpenForInspection(IBlockDevice device, VdoOptions? options = null, bool ownsDevice = false, bool dedupeIndex = true)
    {
        var volume = Open(new InspectionDevice(device, ownsDevice), options, hooks: null, ownsDevice: true, loadIndex: dedupeIndex, loadCounts: true);
        volume.OpenedForInspection = true;
        return volume;
    }

    /// <summary>
    /// Opens a pool read-only to read its data (a restore): as <see cref="OpenForInspection"/>
    /// without the dedupe index, and without the reference counts of a pool closed cleanly (every
    /// ref-count block of every slab, the larger part of a restore command's open). Reads,
    /// <see cref="Images"/>, <see cref="FindImage"/> and backup manifests work as in any open;
    /// <see cref="GetStatistics"/>, <see cref="Check"/> and <see cref="ImageStats"/> throw
    /// <see cref="InvalidOperationException"/>. Ingests left pending are not rolled back in
    /// memory (they stay invisible, as in any open). A pool not closed cleanly is recovered in
    /// memory, counts included, as <see cref="OpenForInspection"/> does.
    /// </summary>
    /// <param name="device">the pool's device; nothing is written to it.</param>
    /// <param name="options">the volume's options.</param>
    /// <param name="ownsDevice">whether disposing the volume disposes <paramref name="device"/>.</param>
    public static Volume OpenForReading(IBlockDevice device, VdoOptions? options = null, bool ownsDevice = false)
    {
        var volume = Open(new InspectionDevice(device, ownsDevice), options, hooks: null, ownsDevice: true, loadIndex: false, loadCounts: false);
        volume.OpenedForInspection = true;
        return volume;
    }

    /// <summary>Throws when the reference counts were not loaded (<see cref="OpenForReading"/>): figures built on them would be wrong.</summary>
    private void CheckCountsLoaded()
    {
        if (_countsUnloaded)
            throw new InvalidOperationException("the pool was opened to read data only (its reference counts are not loaded): open it for inspection to see its figures or check it");
    }
}
