using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Cli;

/// <summary>Opens pools kept in plain files (or block devices).</summary>
internal static class PoolFile
{
    /// <summary>
    /// Opens the pool at <paramref name="path"/> read-only to look at it: nothing is written, a pool
    /// not closed cleanly is recovered in memory only (<see cref="Volume.OpenForInspection"/>).
    /// </summary>
    public static Volume OpenForInspection(string path, VdoOptions options, bool dedupeIndex = true)
    {
        var device = FileBlockDevice.Open(path, readOnly: true);
        try
        {
            return Volume.OpenForInspection(device, options, ownsDevice: true, dedupeIndex);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens the pool at <paramref name="path"/> read-only to read its data (restore): as
    /// <see cref="OpenForInspection"/> without the dedupe index and reference counts (<see cref="Volume.OpenForReading"/>).
    /// </summary>
    public static Volume OpenForReading(string path, VdoOptions options)
    {
        var device = FileBlockDevice.Open(path, readOnly: true);
        try
        {
            return Volume.OpenForReading(device, options, ownsDevice: true);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>Opens the pool at <paramref name="path"/>; recovery runs if it was not closed cleanly.</summary>
    public static Volume Open(string path, VdoOptions options)
    {
        var device = FileBlockDevice.Open(path);
        try
        {
            return Volume.Open(device, options, new VolumeHooks { Logger = CliLogging.Volume }, ownsDevice: true);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }
}
