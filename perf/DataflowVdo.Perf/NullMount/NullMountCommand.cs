using DataflowVdo.Fuse;

namespace DataflowVdo.Perf.NullMount;

/// <summary>
/// <c>nullmount MOUNTPOINT [--size BYTES] [--threads N]</c>: mounts one do-nothing image file
/// (<c>MOUNTPOINT/vol</c>) with the same FUSE options <c>dvdo mount</c> uses by default, until
/// SIGINT/SIGTERM or <c>fusermount3 -u</c>. <c>NULLFS=1 perf/fio/fresh.sh</c> runs every job on it
/// right after the job on a pool, as the FUSE layer's own ceiling.
/// </summary>
internal static class NullMountCommand
{
    public const string Usage = "nullmount MOUNTPOINT [--size BYTES (default 6 GiB)] [--threads N (default 10, as Fuse:MaxThreads)]";

    public static int Run(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: " + Usage);
            return 2;
        }

        long size = 6L << 30;
        int threads = new FuseMountOptions().MaxThreads;
        for (int i = 1; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : string.Empty;
            switch (args[i])
            {
                case "--size" when long.TryParse(value, out size) && size > 0 && size % 4096 == 0:
                    i++;
                    break;
                case "--threads" when int.TryParse(value, out threads) && threads is >= 1 and <= 256:
                    i++;
                    break;
                default:
                    Console.Error.WriteLine($"nullmount: bad argument '{args[i]} {value}'; usage: {Usage}");
                    return 2;
            }
        }

        var options = new FuseMountOptions
        {
            MaxThreads = threads,
            HandleTerminationSignals = true,
            ErrorSink = (operation, ex) => Console.Error.WriteLine($"nullmount: {operation}: {ex.Message}"),
        };
        using var mount = FuseMount.Mount(new NullCatalog(new NullImageFile("vol", size)), args[0], options);
        Console.Error.WriteLine($"nullmount: {mount.MountPoint}/vol ({size} bytes) mounted; fusermount3 -u to stop");
        mount.WaitAsync().GetAwaiter().GetResult();
        return 0;
    }
}
