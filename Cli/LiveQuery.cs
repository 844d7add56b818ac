using System.Net.Sockets;
using System.Text;

namespace DataflowVdo.Cli;

/// <summary>
/// Client side of the live-figures socket that <c>dvdo mount</c> keeps beside its pool
/// (<see cref="SocketPath"/>): while a pool is mounted its file is locked and the figures on disk
/// are stale, so <c>dvdo stats</c> and <c>dvdo image ls</c> ask the mount process instead.
/// Protocol: one request line; the reply is a status line (<c>0</c> or <c>1</c>) and then the
/// output, or the error message.
/// </summary>
internal static class LiveQuery
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>The socket of the pool at <paramref name="pool"/>: a hidden file beside it.</summary>
    public static string SocketPath(string pool)
    {
        var full = Path.GetFullPath(pool);
        return Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".dvdo.sock");
    }

    /// <summary>
    /// Asks a running mount of <paramref name="pool"/>; prints its answer and returns true with the
    /// exit code, or false when no mount answers (no socket, or a stale one from a killed mount).
    /// </summary>
    public static bool TryAsk(string pool, string request, out int exitCode)
    {
        exitCode = 0;
        if (!TryAskRaw(pool, request, Timeout, out var body, out var error))
            return false;
        if (error is null)
        {
            Console.Write(body);
            return true;
        }
        Console.Error.WriteLine($"dvdo: {error.TrimEnd()}");
        exitCode = CommandRunner.Failed;
        return true;
    }

    /// <summary>
    /// Asks a running mount of <paramref name="pool"/>, waiting up to <paramref name="timeout"/>;
    /// true with its answer in <paramref name="body"/> (or its error in <paramref name="error"/>),
    /// false when no mount answers.
    /// </summary>
    public static bool TryAskRaw(string pool, string request, TimeSpan timeout, out string body, out string? error)
    {
        body = "";
        error = null;
        var path = SocketPath(pool);
        if (!File.Exists(path))
            return false;
        string reply;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            using var cts = new CancellationTokenSource(Timeout);
            socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cts.Token).AsTask().GetAwaiter().GetResult();
            socket.ReceiveTimeout = (int)Math.Min(int.MaxValue, timeout.TotalMilliseconds);
            socket.Send(Encoding.UTF8.GetBytes(request + "\n"));
            socket.Shutdown(SocketShutdown.Send);
            var received = new MemoryStream();
            var buffer = new byte[16384];
            int n;
            while ((n = socket.Receive(buffer)) > 0)
                received.Write(buffer, 0, n);
            reply = Encoding.UTF8.GetString(received.GetBuffer(), 0, (int)received.Length);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false; // nobody listening: fall back to opening the pool (which reports a lock holder)
        }
        var newline = reply.IndexOf('\n', StringComparison.Ordinal);
        if (newline < 0)
            return false;
        body = reply[(newline + 1)..];
        if (reply[..newline] != "0")
        {
            error = body;
            body = "";
        }
        return true;
    }
}
