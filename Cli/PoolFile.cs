using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Cli;

/// <summary>Opens pools kept in plain files (or block devices).</summary>
internal static class PoolFile
{
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
