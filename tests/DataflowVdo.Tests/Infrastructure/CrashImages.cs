using DataflowVdo.Storage;

namespace DataflowVdo.Tests.Infrastructure;

/// <summary>Helpers to build crash images by hand (e.g. a write torn in one chosen sector).</summary>
public static class CrashImages
{
    /// <summary>A crash-simulating device whose durable content is <paramref name="image"/>.</summary>
    public static CrashSimulatingDevice Load(MemoryBlockDevice image) => CrashSimulatingDevice.FromImage(image);

    /// <summary>Copies sector <paramref name="sector"/> of block <paramref name="pbn"/> from <paramref name="from"/> into <paramref name="to"/> (a torn write: that sector kept its old content).</summary>
    public static void CopySector(MemoryBlockDevice from, MemoryBlockDevice to, long pbn, int sector)
    {
        var a = new byte[VdoConstants.BlockSize];
        var b = new byte[VdoConstants.BlockSize];
        from.Read(pbn, a);
        to.Read(pbn, b);
        a.AsSpan(sector * VdoConstants.SectorSize, VdoConstants.SectorSize).CopyTo(b.AsSpan(sector * VdoConstants.SectorSize));
        to.Write(pbn, b);
    }
}
