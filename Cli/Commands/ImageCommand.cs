using System.CommandLine;
using System.Globalization;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Cli.Commands;

/// <summary><c>dvdo image create|ls|rm</c>: the named images of a pool.</summary>
internal static class ImageCommand
{
    public static Command Create()
    {
        var command = new Command("image", "create, list and remove the named images of a pool");
        command.Subcommands.Add(CreateCommand());
        command.Subcommands.Add(ListCommand());
        command.Subcommands.Add(RemoveCommand());
        return command;
    }

    private static Command CreateCommand()
    {
        var pool = new Argument<string>("pool") { Description = "pool file" };
        var name = new Argument<string>("name") { Description = "image name (1..64 bytes, no '/' or control characters)" };
        var size = new Option<string>("--size") { Description = "image size (K/M/G/T suffixes, a multiple of 4 KiB), e.g. 64G; thin: unwritten blocks cost nothing", Required = true };
        var common = new CommonOptions();
        var command = new Command("create", "create a read-write block image") { pool, name, size };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var bytes = SizeParser.ParseBlocks(r.GetValue(size)!, "--size") * 4096;
            using var volume = PoolFile.Open(r.GetValue(pool)!, common.Load(r));
            var before = volume.LogicalBlocks;
            var entry = volume.CreateImage(r.GetValue(name)!, bytes, growLogical: true);
            if (volume.LogicalBlocks > before)
                Console.WriteLine($"grew the pool's logical size from {SizeParser.Format(before * 4096)} to {SizeParser.Format(volume.LogicalBlocks * 4096)} to hold it (thin: costs nothing until written; can grow to {SizeParser.Format(volume.MaxLogicalBlocks * 4096)})");
            Console.WriteLine($"created image '{entry.Name}': {SizeParser.Format(entry.SizeBytes)} at LBN {entry.FirstLbn}");
            return 0;
        }));
        return command;
    }

    private static Command ListCommand()
    {
        var pool = new Argument<string>("pool") { Description = "pool file" };
        var common = new CommonOptions();
        var command = new Command("ls", "list the images: name, kind, size, blocks written, space saved") { pool };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var path = r.GetValue(pool)!;
            var options = common.Load(r);
            // While the pool is mounted, the mount process answers with live figures.
            if (LiveQuery.TryAsk(path, "images", out var live))
                return live;
            using var volume = PoolFile.Open(path, options);
            Console.Write(RenderList(volume));
            return 0;
        }));
        return command;
    }

    /// <summary>The output of <c>dvdo image ls</c>.</summary>
    internal static string RenderList(Volume volume)
    {
        var w = new StringWriter();
        var images = volume.Images;
        var width = Math.Max(4, images.Count == 0 ? 0 : images.Max(i => i.Name.Length));
        w.WriteLine($"{"NAME".PadRight(width)}  {"KIND",-6} {"SIZE",12} {"WRITTEN",12} {"SAVED",7}  CREATED");
        foreach (var image in images)
        {
            var s = volume.ImageStats(image.Name);
            var size = image.SizeBytes;
            var percent = s.SavingPercent;
            if (image.Kind == ImageKind.Backup && TryManifest(volume, image) is { } manifest)
            {
                // A backup: its original length, and the share of it the pool does not store.
                size = manifest.StreamLength;
                percent = size == 0 ? 0 : Math.Max(0, 100 - (s.PhysicalBlocks * VdoConstants.BlockSize * 100 / size));
            }
            var saved = percent.ToString("0.0", CultureInfo.InvariantCulture) + "%";
            var created = image.Created.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            w.WriteLine($"{image.Name.PadRight(width)}  {image.Kind.ToString().ToLowerInvariant(),-6} {SizeParser.Format(size),12} {s.BlocksWritten,12} {saved,7}  {created}");
        }
        return w.ToString();
    }

    private static BackupManifest? TryManifest(Volume volume, ImageEntry image)
    {
        try
        {
            return volume.ReadBackupManifest(image);
        }
        catch (CorruptMetadataException)
        {
            return null; // a backup made without ingest (API): shown by its blocks
        }
    }

    private static Command RemoveCommand()
    {
        var pool = new Argument<string>("pool") { Description = "pool file" };
        var name = new Argument<string>("name") { Description = "image to remove (its data is discarded)" };
        var common = new CommonOptions();
        var command = new Command("rm", "remove an image; its extent is discarded and the space comes back") { pool, name };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            using var volume = PoolFile.Open(r.GetValue(pool)!, common.Load(r));
            volume.RemoveImage(r.GetValue(name)!);
            Console.WriteLine($"removed image '{r.GetValue(name)}'");
            return 0;
        }));
        return command;
    }
}
