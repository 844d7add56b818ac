using DataflowVdo.Config;
using DataflowVdo.Storage;

namespace DataflowVdo.Cli;

/// <summary>Runs a command body and turns the errors a user can cause into one clear line and an exit code.</summary>
internal static class CommandRunner
{
    /// <summary>Exit code for bad usage or configuration.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code for a damaged or inconsistent pool.</summary>
    public const int Damaged = 3;

    /// <summary>Exit code for an I/O or space problem.</summary>
    public const int Failed = 1;

    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ConfigurationException or FormatException or ArgumentException)
        {
            Console.Error.WriteLine($"dvdo: {e.Message}");
            return UsageError;
        }
        catch (CorruptMetadataException e)
        {
            Console.Error.WriteLine($"dvdo: {e.Message}");
            return Damaged;
        }
        catch (Exception e) when (e is VdoException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            Console.Error.WriteLine($"dvdo: {e.Message}");
            return Failed;
        }
    }
}
