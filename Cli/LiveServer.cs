using System.Net.Sockets;
using System.Text;

namespace DataflowVdo.Cli;

/// <summary>
/// Server side of the live-figures socket (see <see cref="LiveQuery"/>), run by <c>dvdo mount</c>:
/// an owner-only Unix domain socket beside the pool. Each connection sends one request line and
/// gets one reply from <c>handler</c>; requests are answered one at a time.
/// </summary>
internal sealed class LiveServer : IDisposable
{
    private const int MaxRequest = 1024;

    private readonly Socket _listener;
    private readonly string _path;
    private readonly Func<string, string> _handler;
    private readonly Action<string, Socket, CancellationToken>? _streaming;
    private readonly System.Collections.Concurrent.ConcurrentBag<Task> _streams = [];
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private LiveServer(Socket listener, string path, Func<string, string> handler, Action<string, Socket, CancellationToken>? streaming, Action<string> log)
    {
        _listener = listener;
        _path = path;
        _handler = handler;
        _streaming = streaming;
        _log = log;
        _loop = Task.Run(AcceptLoop);
    }

    /// <summary>
    /// Listens beside <paramref name="pool"/>; returns null (after logging why) when the socket
    /// cannot be created, since live figures are a convenience and must not prevent the mount.
    /// Requests for which <see cref="LiveBackup.IsStreaming"/> holds (ingest, restore) go to
    /// <paramref name="streaming"/> on a task of their own, which owns the connection, so figures
    /// are still answered while a backup streams.
    /// </summary>
    public static LiveServer? Start(string pool, Func<string, string> handler, Action<string> log, Action<string, Socket, CancellationToken>? streaming = null)
    {
        var path = LiveQuery.SocketPath(pool);
        Socket? listener = null;
        try
        {
            // We hold the pool's exclusive lock, so a socket left here is from a mount that died.
            if (File.Exists(path))
                File.Delete(path);
            listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            // Owner only: the figures (and image names) are the owner's business.
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(8);
            return new LiveServer(listener, path, handler, streaming, log);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            listener?.Dispose();
            log($"live figures unavailable ({path}: {e.Message}); 'dvdo stats' will report the pool as in use");
            return null;
        }
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            var handedOff = false;
            try
            {
                handedOff = Serve(client);
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                _log($"live figures: {e.Message}");
            }
            finally
            {
                if (!handedOff)
                    client.Dispose();
            }
        }
    }

    private bool Serve(Socket client)
    {
        client.ReceiveTimeout = 5000;
        client.SendTimeout = 5000;
        var buffer = new byte[MaxRequest];
        var length = 0;
        while (length < buffer.Length)
        {
            var n = client.Receive(buffer, length, buffer.Length - length, SocketFlags.None);
            if (n == 0)
                break;
            length += n;
            if (Array.IndexOf(buffer, (byte)'\n', 0, length) >= 0)
                break;
        }
        var request = Encoding.UTF8.GetString(buffer, 0, length).Split('\n')[0].Trim();
        if (_streaming is not null && LiveBackup.IsStreaming(request))
        {
            var streaming = _streaming;
            var stop = _stop.Token;
            _streams.Add(Task.Run(() => streaming(request, client, stop)));
            return true;
        }
        string reply;
        try
        {
            reply = "0\n" + _handler(request);
        }
        catch (Exception e)
        {
            // Any failure is the reply: the mount itself must go on serving.
            reply = "1\n" + e.Message;
        }
        client.Send(Encoding.UTF8.GetBytes(reply));
        client.Shutdown(SocketShutdown.Both);
        return false;
    }

    /// <summary>Stops listening, cancels the backups streaming through it, and removes the socket file.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        // An ingest or restore still streaming is cancelled (an ingest rolls back) before the pool closes.
        Task.WaitAll([.. _streams], TimeSpan.FromSeconds(60));
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
        }
        _stop.Dispose();
    }
}
