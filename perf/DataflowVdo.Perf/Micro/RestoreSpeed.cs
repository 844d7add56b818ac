using System.Diagnostics;
using DataflowVdo.Pipeline;
using DataflowVdo.Pipeline.Backup;
using DataflowVdo.Storage;

namespace DataflowVdo.Perf.Micro;

/// <summary>
/// The <c>restore POOL NAME [PASSES]</c> mode: restores a backup of an existing pool to nowhere
/// <c>PASSES</c> times (default 5) in one process, so that the figures leave out process start,
/// JIT warm-up and the pool's open and close; prints each pass's MB/s and CPU seconds (the
/// process's user + system time over the pass) and the best.
/// </summary>
internal static class RestoreSpeed
{
    public static int Run(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: restore POOL NAME [PASSES]");
            return 2;
        }
        var passes = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 5;
        using var volume = Volume.Open(FileBlockDevice.Open(args[0]), ownsDevice: true);
        var best = 0.0;
        for (var pass = 0; pass < passes; pass++)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var (bytes, elapsed) = BackupRestore.Run(volume, args[1], Stream.Null);
            var used = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            var rate = bytes / elapsed.TotalSeconds / 1e6;
            best = Math.Max(best, rate);
            Console.WriteLine($"pass {pass + 1}: {bytes} bytes in {elapsed.TotalSeconds:0.000} s, {rate:0} MB/s, {used:0.00} CPU s");
        }
        Console.WriteLine($"restore: best {best:0} MB/s over {passes} passes");
        return 0;
    }
}
