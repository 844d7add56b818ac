using System.Diagnostics.CodeAnalysis;

namespace DataflowVdo.Storage;

/// <summary>Argument checks shared by the block devices, kept out of their hot paths.</summary>
internal static class DeviceChecks
{
    public static void CheckRange(long pbn, int length, long blockCount)
    {
        if (length % VdoConstants.BlockSize != 0)
            ThrowLength(length);
        if (pbn < 0 || pbn + (length / VdoConstants.BlockSize) > blockCount)
            ThrowRange(pbn, length / VdoConstants.BlockSize, blockCount);
    }

    [DoesNotReturn]
    private static void ThrowLength(int length) =>
        throw new ArgumentException($"I/O length {length} is not a multiple of the {VdoConstants.BlockSize}-byte block size.");

    [DoesNotReturn]
    private static void ThrowRange(long pbn, int blocks, long blockCount) =>
        throw new ArgumentOutOfRangeException(nameof(pbn), $"blocks {pbn}..{pbn + blocks - 1} are outside the device ({blockCount} blocks).");
}
