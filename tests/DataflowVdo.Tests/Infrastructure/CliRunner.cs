using DataflowVdo.Cli;

namespace DataflowVdo.Tests.Infrastructure;

/// <summary>Runs the dvdo command in-process with its console captured (fixtures using it are non-parallelizable).</summary>
public static class CliRunner
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = Console.Out;
        var stderr = Console.Error;
        using var o = new StringWriter();
        using var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try
        {
            return (Program.Main(args), o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }
}
