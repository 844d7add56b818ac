using System.CommandLine;
using System.Globalization;
using DataflowVdo.Config;
using DataflowVdo.Fuse;
using DataflowVdo.Pipeline;

namespace DataflowVdo.Cli.Commands;

/// <summary>
/// <c>dvdo mount POOL MOUNTPOINT [--allow-other] [--background [--log FILE]]</c>: serves every
/// image of the pool as a file <c>MOUNTPOINT/NAME</c> through FUSE, in the foreground, logging to
/// stderr; with <c>--background</c> it detaches once mounted and logs to a file. SIGINT, SIGTERM or
/// an external <c>fusermount3 -u</c> unmounts; the pool is then closed cleanly.
/// </summary>
internal static class MountCommand
{
    public static Command Create()
    {
        var pool = new Argument<string>("pool") { Description = "pool file" };
        var mountPoint = new Argument<string>("mountpoint") { Description = "existing empty directory" };
        var allowOther = new Option<bool>("--allow-other") { Description = "let other users access the mount (needs user_allow_other in /etc/fuse.conf unless root); default: owner only (or Fuse:AllowOther)" };
        var debug = new Option<bool>("--debug") { Description = "libfuse logs every request to stderr" };
        var background = new Option<bool>("--background") { Description = "detach once mounted; the log goes to --log (default: POOL.mount.log)" };
        var logFile = new Option<string?>("--log") { Description = "log file of a --background mount" };
        var common = new CommonOptions();
        var command = new Command("mount", "show the pool's images as files MOUNTPOINT/NAME (foreground unless --background; Ctrl-C or 'fusermount3 -u MOUNTPOINT' unmounts)") { pool, mountPoint, allowOther, debug, background, logFile };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var path = r.GetValue(pool)!;
            var dir = r.GetValue(mountPoint)!;
            var options = common.Load(r);
            if (r.GetValue(background))
                return MountBackground.Detach(path, dir, r.GetValue(logFile) ?? path + ".mount.log");
            options.Pipeline.Runners = options.Fuse.Runners(options.Pipeline);
            using var volume = PoolFile.Open(path, options);
            if (volume.Recovered)
                Log($"{path} was not closed cleanly: recovered");
            FuseMount mount;
            try
            {
                var fuse = options.Fuse;
                mount = FuseMount.Mount(new VolumeCatalogView(volume), dir, new FuseMountOptions
                {
                    AllowOther = r.GetValue(allowOther) || fuse.AllowOther,
                    AutoUnmount = fuse.AutoUnmount,
                    MaxThreads = fuse.WorkerThreads(options.Pipeline.Scheme, Environment.ProcessorCount),
                    MaxWrite = fuse.MaxWriteKb * 1024,
                    MaxBackground = fuse.MaxBackground,
                    AttributeTimeout = TimeSpan.FromMilliseconds(fuse.AttributeTimeoutMs),
                    Debug = r.GetValue(debug),
                    HandleTerminationSignals = true,
                    ErrorSink = (operation, e) => Log($"{operation}: {e.GetType().Name}: {e.Message}"),
                });
            }
            catch (PlatformNotSupportedException e)
            {
                throw new IOException($"cannot mount: {e.Message}", e);
            }
            using (mount)
            using (LiveServer.Start(path, request => Answer(path, volume, options, request), Log,
                (request, client, stop) => LiveBackup.Serve(volume, request, client, stop, Log)))
            {
                var images = volume.Images;
                Log($"mounted {path} on {mount.MountPoint}: {images.Count} image(s){(images.Count == 0 ? " (create one with 'dvdo image create')" : ": " + string.Join(", ", images.Select(i => $"{i.Name} ({SizeParser.Format(i.SizeBytes)})")))}");
                Log(SigIntIgnored()
                    ? "SIGINT is ignored (this process was started as a background job): SIGTERM or 'fusermount3 -u " + mount.MountPoint + "' unmounts"
                    : "Ctrl-C, SIGTERM or 'fusermount3 -u " + mount.MountPoint + "' unmounts");
                mount.WaitAsync().GetAwaiter().GetResult();
                Log("session ended; stopping the live-figures socket");
            }
            Log("unmounted; closing the pool");
            // Flushes, checkpoints and marks the pool clean (the using above only covers errors).
            volume.Dispose();
            Log($"closed {path} cleanly");
            return 0;
        }));
        return command;
    }

    /// <summary>Live figures for <c>dvdo stats</c> / <c>dvdo image ls</c> on the mounted pool.</summary>
    private static string Answer(string path, Volume volume, VdoOptions options, string request) => request switch
    {
        "stats table" or "stats verbose" or "stats json" => StatsCommand.Render(path, volume.GetStatistics(), request[6..]),
        "images" => ImageCommand.RenderList(volume),
        "scrub" => ScrubCommand.Render(volume.Scrub()),
        "graph dot" or "graph mermaid" => GraphCommand.RenderLive(options, volume, request[6..], TimeSpan.FromSeconds(1)),
        _ => throw new ArgumentException($"unknown request '{request}'"),
    };

    /// <summary>
    /// Whether SIGINT was ignored when this process started. A shell starts a background job
    /// (<c>dvdo mount ... &amp;</c> in a script) with SIGINT and SIGQUIT ignored, and the runtime,
    /// like libfuse, leaves an ignored signal ignored; so Ctrl-C or <c>kill -INT</c> cannot
    /// reach such a mount, and the log says so instead of promising it.
    /// </summary>
    private static bool SigIntIgnored()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
            return line is not null
                && ulong.TryParse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask)
                && (mask & (1UL << (2 - 1))) != 0; // SIGINT is signal 2: bit 1
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void Log(string message) =>
        Console.Error.WriteLine($"{DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)} dvdo mount: {message}");
}
