using System.CommandLine;
using DataflowVdo.Config;

namespace DataflowVdo.Cli;

/// <summary>Options every command takes: the configuration file and <c>--set</c> overrides.</summary>
internal sealed class CommonOptions
{
    public Option<string?> Config { get; } = new("--config")
    {
        Description = "configuration file (default: ./dvdo.json if present)",
    };

    public Option<string[]> Set { get; } = new("--set")
    {
        Description = "override a configuration key: --set Section:Key=Value (repeatable)",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        command.Options.Add(Set);
    }

    public VdoOptions Load(ParseResult result) =>
        VdoConfiguration.Load(result.GetValue(Config), result.GetValue(Set) ?? []);
}
