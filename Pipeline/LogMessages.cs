using Microsoft.Extensions.Logging;

namespace DataflowVdo.Pipeline;

/// <summary>What the volume logs (through <see cref="VolumeHooks.Logger"/>): failures and the mode changes they cause.</summary>
internal static partial class LogMessages
{
    [LoggerMessage(EventId = 2101, Level = LogLevel.Critical, Message = "pool entered read-only mode, writes are refused until 'dvdo check --repair': {Reason}")]
    public static partial void EnteredReadOnly(ILogger logger, string reason);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Error, Message = "could not record read-only mode in the superblock (it holds until this pool is closed): {Error}")]
    public static partial void ReadOnlyNotPersisted(ILogger logger, string error);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "pool is in read-only mode since an earlier failure, writes are refused until 'dvdo check --repair': {Reason}")]
    public static partial void OpenedReadOnly(ILogger logger, string reason);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Error, Message = "data write for LBN {Lbn} failed; that write fails, the pool stays writable: {Error}")]
    public static partial void DataWriteFailed(ILogger logger, long lbn, string error);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "repair: {Change}")]
    public static partial void Repaired(ILogger logger, string change);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Error, Message = "data checksum mismatch: LBN {Lbn}, {Mapping}; the read fails (EIO), no data is returned")]
    public static partial void DataChecksumFailed(ILogger logger, long lbn, string mapping);
}
