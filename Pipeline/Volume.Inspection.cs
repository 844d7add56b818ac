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
        var volume = Open(new InspectionDevice(device, ownsDevice), options, hooks: null, ownsDevice: true, loadIndex: dedupeIndex);
        volume.OpenedForInspection = true;
        return volume;
    }
}
