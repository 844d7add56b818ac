using System.CommandLine;
using DataflowVdo.Cli.Commands;

namespace DataflowVdo.Cli;

/// <summary>The <c>dvdo</c> command.</summary>
public static class Program
{
    /// <summary>Entry point; returns the process exit code.</summary>
    public static int Main(string[] args)
    {
        var root = new RootCommand("dvdo — DataflowVdo, a user-space VDO-style data-reduction block store (dedupe, LZ4 compression, zero elimination, thin provisioning)");
        root.Subcommands.Add(FormatCommand.Create());
        root.Subcommands.Add(StatsCommand.Create());
        root.Subcommands.Add(CheckCommand.Create());
        root.Subcommands.Add(ScrubCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(ImageCommand.Create());
        root.Subcommands.Add(IngestCommand.Create());
        root.Subcommands.Add(RestoreCommand.Create());
        root.Subcommands.Add(MountCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(GraphCommand.Create());
        try
        {
            return root.Parse(args).Invoke();
        }
        finally
        {
            CliLogging.Flush();
        }
    }
}
