using System.Runtime.InteropServices;

namespace DataflowVdo.Cli;

/// <summary>
/// Turns Ctrl-C (SIGINT) and SIGTERM into a cancellation, so a long command (ingest, restore)
/// stops cleanly and rolls back instead of dying half-way. Dispose to restore the defaults.
/// </summary>
internal sealed class Cancellation : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;

    public Cancellation()
    {
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
    }

    /// <summary>Cancelled at the first signal.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>Exit code of a command stopped by a signal (128 + SIGINT).</summary>
    public const int Interrupted = 130;

    private void Cancel(PosixSignalContext context)
    {
        context.Cancel = true; // keep running until the command has rolled back
        _source.Cancel();
    }

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _source.Dispose();
    }
}
