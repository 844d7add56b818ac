using DataflowVdo.Blocks;
using DataflowVdo.Storage;
using Microsoft.Extensions.Logging;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The one check every read of user data passes (both schemes' read steps, scrub): the 4 KiB a
/// data block or a decompressed fragment holds must carry the checksum its mapping was written
/// with (<see cref="BlockMapping.ChecksumOf"/> of its name). A mismatch is counted, logged and
/// thrown as <see cref="DataChecksumException"/> naming the LBN and PBN; no wrong data goes out.
/// </summary>
internal sealed class DataChecksums(BlockNamer namer, PersistentCounters counters, ILogger logger)
{
    /// <summary>
    /// For measurement only (perf/README.md): <c>DATAFLOWVDO_UNVERIFIED_READS=1</c> skips the check so
    /// its cost can be compared in the same run. Never set in production.
    /// </summary>
    public static readonly bool Disabled = Environment.GetEnvironmentVariable("DATAFLOWVDO_UNVERIFIED_READS") == "1";

    /// <summary>True when <paramref name="data"/> (4 KiB) matches <paramref name="mapping"/>'s checksum; zero and unmapped blocks always do.</summary>
    public bool Matches(BlockMapping mapping, ReadOnlySpan<byte> data) =>
        !mapping.HasPhysicalBlock || BlockMapping.ChecksumOf(namer(data[..VdoConstants.BlockSize])) == mapping.Checksum;

    /// <summary>
    /// Throws (counted and logged) when the 4 KiB read for <paramref name="lbn"/> does not match
    /// its mapping, after zeroing them so that no wrong data is left in the caller's buffer.
    /// </summary>
    public void Verify(long lbn, BlockMapping mapping, Span<byte> data)
    {
        if (Disabled || Matches(mapping, data))
            return;
        data[..VdoConstants.BlockSize].Clear();
        throw Failed(lbn, mapping);
    }

    /// <summary>Counts and logs a mismatch found for <paramref name="lbn"/>; returns the error to throw or report.</summary>
    public DataChecksumException Failed(long lbn, BlockMapping mapping)
    {
        Interlocked.Increment(ref counters.DataChecksumFailures);
        LogMessages.DataChecksumFailed(logger, lbn, mapping.ToString());
        return new DataChecksumException(lbn, mapping);
    }
}
