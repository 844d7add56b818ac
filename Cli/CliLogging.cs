using Microsoft.Extensions.Logging;

namespace DataflowVdo.Cli;

/// <summary>The command's log: one line per message on standard error (read-only mode, failed writes, repairs).</summary>
internal static class CliLogging
{
    private static readonly Lock s_sync = new();
    private static ILoggerFactory? s_factory;

    /// <summary>The logger a pool opened by the command logs to.</summary>
    public static ILogger Volume
    {
        get
        {
            lock (s_sync)
            {
                s_factory ??= LoggerFactory.Create(b => b
                    .AddSimpleConsole(o =>
                    {
                        o.SingleLine = true;
                        o.TimestampFormat = "yyyy-MM-ddTHH:mm:ssZ ";
                        o.UseUtcTimestamp = true;
                    })
                    .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
                    .SetMinimumLevel(LogLevel.Information));
                return s_factory.CreateLogger("dvdo");
            }
        }
    }

    /// <summary>Writes out what is queued (the console logger writes on a thread of its own); call before the command returns.</summary>
    public static void Flush()
    {
        lock (s_sync)
        {
            s_factory?.Dispose();
            s_factory = null;
        }
    }
}
