using System.Diagnostics;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Pipeline.Backup;
using DataflowVdo.Storage;

namespace DataflowVdo.Perf.Micro;

/// <summary>
/// The <c>ingest POOL FILE[,FILE...] [PASSES] [cdc|fixed] [submit]</c> mode: formats a fresh
/// 8 GiB pool file and ingests the files into it one after the other (generations), <c>PASSES</c>
/// times (default 3) in one process, so that from the second pass on the figures leave out process
/// start and JIT warm-up; prints each pass's MB/s and CPU seconds (the process's user + system
/// time over the pass) and the best. <c>submit</c> sets <c>Pipeline:CompressOnSubmit</c>.
/// </summary>
internal static class IngestSpeed
{
    public static int Run(string[] args)
    {
        if (args.Length < 2)
        {
            Console.Error.WriteLine("usage: ingest POOL FILE[,FILE...] [PASSES] [cdc|fixed] [submit]");
            return 2;
        }
        var passes = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3;
        var alignment = args.Length > 3 && args[3] != "submit" ? Enum.Parse<BackupAlignment>(args[3], ignoreCase: true) : IngestSettings.DefaultAlignment;
        var best = 0.0;
        for (var pass = 0; pass < passes; pass++)
        {
            const long Physical = 8L << 30;
            using var device = FileBlockDevice.Create(args[0], Physical / VdoConstants.BlockSize);
            var options = new VdoOptions();
            options.Pipeline.CompressOnSubmit = args.Contains("submit");
            using var volume = Volume.Format(device, new FormatParameters { PhysicalBlocks = Physical / VdoConstants.BlockSize, LogicalBlocks = (256L << 30) / VdoConstants.BlockSize }, options);
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            long bytes = 0, blocks = 0, stored = 0;
            var files = args[1].Split(',');
            for (var f = 0; f < files.Length; f++)
            {
                using var input = new FileStream(files[f], FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                var result = BackupIngest.Run(volume, $"gen{f + 1}", input, input.Length, new IngestSettings { Alignment = alignment });
                (bytes, blocks, stored) = (bytes + result.Manifest.StreamLength, blocks + result.Manifest.DataBlocks, stored + result.Manifest.StoredBlocks);
            }
            var used = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            var rate = bytes / watch.Elapsed.TotalSeconds / 1e6;
            best = Math.Max(best, rate);
            Console.WriteLine($"pass {pass + 1}: {bytes} bytes in {watch.Elapsed.TotalSeconds:0.000} s, {rate:0} MB/s, {used:0.00} CPU s, {used * 1e6 / Math.Max(1, blocks):0.0} CPU us/block, stored {stored} of {blocks} blocks");
        }
        Console.WriteLine($"ingest: best {best:0} MB/s over {passes} passes ({alignment})");
        return 0;
    }
}
