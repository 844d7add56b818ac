using System.CommandLine;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;

namespace DataflowVdo.Cli.Commands;

/// <summary><c>dvdo format POOL --physical-size 4G [--logical-size 1T]</c>: creates a pool in a plain file.</summary>
internal static class FormatCommand
{
    public static Command Create()
    {
        var pool = new Argument<string>("pool") { Description = "backing file to create" };
        var physical = new Option<string>("--physical-size") { Description = "size of the backing file (K/M/G/T suffixes), e.g. 4G", Required = true };
        var logical = new Option<string?>("--logical-size") { Description = "thin logical size (default: the physical size, or what the --image sizes need if more); may exceed it, e.g. 1T" };
        var slab = new Option<string>("--slab-size") { Description = "data per slab (power of two, 1M..32G)", DefaultValueFactory = _ => "128M" };
        var journal = new Option<string>("--journal-size") { Description = "recovery-journal ring size", DefaultValueFactory = _ => "4M" };
        var force = new Option<bool>("--force") { Description = "overwrite an existing file" };
        var images = new Option<string[]>("--image")
        {
            Description = "create a block image NAME=SIZE in the new pool (repeatable), e.g. --image vm=64G",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var common = new CommonOptions();
        var command = new Command("format", "create a new, empty pool in a plain file") { pool, physical, logical, slab, journal, force, images };
        common.AddTo(command);
        command.SetAction(r => CommandRunner.Run(() =>
        {
            var path = r.GetValue(pool)!;
            var options = common.Load(r);
            var physicalBlocks = SizeParser.ParseBlocks(r.GetValue(physical)!, "--physical-size");
            var logicalText = r.GetValue(logical);
            var parameters = new FormatParameters
            {
                PhysicalBlocks = physicalBlocks,
                LogicalBlocks = logicalText is null ? 0 : SizeParser.ParseBlocks(logicalText, "--logical-size"),
                SlabBlocks = (int)Math.Min(int.MaxValue, SizeParser.ParseBlocks(r.GetValue(slab)!, "--slab-size")),
                JournalBlocks = (int)Math.Min(int.MaxValue, SizeParser.ParseBlocks(r.GetValue(journal)!, "--journal-size")),
            };
            var wanted = ParseImages(r.GetValue(images) ?? []);
            var imagesEnd = ImagesEnd(wanted);
            var chosen = logicalText is null && imagesEnd > physicalBlocks;
            if (chosen)
                parameters = parameters with { LogicalBlocks = imagesEnd }; // thin: it costs nothing until written
            var problem = parameters.Validate(physicalBlocks);
            if (problem is not null)
                throw new ArgumentException(problem);
            if (File.Exists(path) && new FileInfo(path).Length > 0 && !r.GetValue(force))
                throw new ArgumentException($"'{path}' already exists; use --force to overwrite it (its data will be lost)");
            // Lay it out first so a bad size fails before anything is written.
            var layout = Geometry.Compute(parameters, physicalBlocks, 1);
            if (imagesEnd > layout.LogicalBlocks)
                throw new ArgumentException($"the images need a logical size of {SizeParser.Format(imagesEnd * 4096)} but --logical-size is {SizeParser.Format(layout.LogicalBlocks * 4096)}; each image starts on a 3.2 MiB block-map page boundary; give a larger --logical-size or none (it is thin; without it format picks one that holds the images)");
            using var device = FileBlockDevice.Create(path, physicalBlocks);
            using (var volume = Volume.Format(device, parameters, options))
            {
                var g = volume.Geometry;
                Console.WriteLine($"formatted {path}: physical {SizeParser.Format(g.PhysicalBlocks * 4096)} ({g.SlabCount} slabs of {SizeParser.Format((long)g.SlabBlocks * 4096)}, {SizeParser.Format(g.DataBlocks * 4096)} for data), logical {SizeParser.Format(g.LogicalBlocks * 4096)} (thin{(chosen ? ", chosen to hold the images" : "")}; can grow to {SizeParser.Format(g.MaxLogicalBlocks * 4096)})");
                foreach (var (name, bytes) in wanted)
                {
                    var entry = volume.CreateImage(name, bytes);
                    Console.WriteLine($"created image '{entry.Name}': {SizeParser.Format(entry.SizeBytes)}");
                }
            }
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// The logical size the images need: they are laid out one after the other, each starting on a
    /// block-map page boundary; the last may end mid-page.
    /// </summary>
    private static long ImagesEnd(List<(string Name, long Bytes)> images)
    {
        var start = 0L;
        var end = 0L;
        foreach (var (_, bytes) in images)
        {
            end = start + (bytes / 4096);
            start += (bytes / 4096 + Geometry.EntriesPerPage - 1) / Geometry.EntriesPerPage * Geometry.EntriesPerPage;
        }
        return end;
    }

    /// <summary>Parses <c>NAME=SIZE</c> pairs before anything is written, so a typo fails the format up front.</summary>
    private static List<(string Name, long Bytes)> ParseImages(string[] specs)
    {
        var result = new List<(string, long)>();
        foreach (var spec in specs)
        {
            var eq = spec.LastIndexOf('=');
            if (eq <= 0 || eq == spec.Length - 1)
                throw new ArgumentException($"--image '{spec}': expected NAME=SIZE, e.g. vm=64G");
            var name = spec[..eq];
            var problem = ImageCatalog.ValidateName(name);
            if (problem is not null)
                throw new ArgumentException($"--image '{spec}': {problem}");
            if (result.Exists(i => i.Item1 == name))
                throw new ArgumentException($"--image '{spec}': image '{name}' is given twice");
            result.Add((name, SizeParser.ParseBlocks(spec[(eq + 1)..], $"--image {name}") * 4096));
        }
        return result;
    }
}
