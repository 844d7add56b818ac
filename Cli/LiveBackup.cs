using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using DataflowVdo.Blocks.Chunking;
using DataflowVdo.Cli.Commands;
using DataflowVdo.Pipeline;
using DataflowVdo.Pipeline.Backup;
using DataflowVdo.Storage;

namespace DataflowVdo.Cli;

/// <summary>
/// <c>dvdo ingest</c> and <c>dvdo restore</c> through a running mount's live socket, so that a
/// mounted pool takes backups without unmounting (one dedupe domain with its VM images).
/// Ingest: the client sends <c>ingest {json}</c>; the mount reserves the name and answers a
/// status line (<c>0</c>, or an exit code and the error); the client then sends the stream in
/// frames (<see cref="FrameStream"/>) and an end frame, and the mount answers the status and
/// the JSON summary. A client that asks for progress also gets, meanwhile, a line
/// <c>p READ WRITTEN STORED</c> (bytes read, blocks written, blocks stored) a few times a second
/// and once at the end, for its progress bar. A client that dies mid-stream closes the connection before the end frame:
/// the mount rolls the ingest back. Restore: <c>restore NAME</c>; the mount sends the bytes in
/// frames, an end frame, then the status (a SHA-256 mismatch is an error status).
/// </summary>
internal static class LiveBackup
{
    /// <summary>The request a client sends to ingest.</summary>
    internal sealed record IngestRequest(string Name, string Alignment, int Min, int Average, int Max, long? KnownLength, bool Progress = false);

    /// <summary>How often a mount reports an ingest's progress to a client that asked.</summary>
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromMilliseconds(200);

    public static bool IsStreaming(string request) =>
        request.StartsWith("ingest ", StringComparison.Ordinal) || request.StartsWith("restore ", StringComparison.Ordinal);

    // ---- mount side ----

    /// <summary>Serves one streaming request; owns <paramref name="client"/>.</summary>
    public static void Serve(Volume volume, string request, Socket client, CancellationToken stop, Action<string> log)
    {
        using (client)
        {
            client.ReceiveTimeout = 0;
            client.SendTimeout = 0;
            // Unmounting: an ingest waiting for its client's next frame fails at once and rolls back.
            using var unmount = stop.Register(client.Dispose);
            using var net = new NetworkStream(client, ownsSocket: false);
            try
            {
                if (request.StartsWith("ingest ", StringComparison.Ordinal))
                    ServeIngest(volume, request[7..], net, stop, log);
                else
                    ServeRestore(volume, request[8..], net, stop, log);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                log($"live {request.Split(' ')[0]}: {e.Message}");
            }
        }
    }

    private static void ServeIngest(Volume volume, string json, NetworkStream net, CancellationToken stop, Action<string> log)
    {
        var r = JsonSerializer.Deserialize<IngestRequest>(json) ?? throw new IOException("empty ingest request");
        var settings = new IngestSettings
        {
            Alignment = IngestSettings.ParseAlignment(r.Alignment),
            Chunker = new ChunkerParameters { MinBytes = r.Min, AverageBytes = r.Average, MaxBytes = r.Max },
        };
        var progress = new IngestProgress();
        var sending = new Lock(); // the reporter's lines and the replies share the connection
        using var ended = new CancellationTokenSource();
        Task? reporter = null;
        var input = new FrameStream(net, () =>
        {
            Send(net, "0\n"); // the name is reserved: go
            if (r.Progress)
                reporter = Task.Run(() => Report(net, progress, sending, ended.Token));
        });
        string reply;
        try
        {
            var result = BackupIngest.Run(volume, r.Name, input, r.KnownLength, settings, progress, stop);
            log($"ingested backup '{r.Name}' ({result.Manifest.StreamLength} bytes)");
            reply = "0\n" + JsonSerializer.Serialize(IngestCommand.Summary(result));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            reply = Code(e) + "\n" + e.Message;
        }
        ended.Cancel();
        reporter?.Wait();
        Send(net, (r.Progress ? ProgressLine(progress) : "") + reply);
    }

    /// <summary>Sends the progress line every <see cref="ProgressEvery"/> until <paramref name="ended"/>; stops quietly if the client has gone.</summary>
    private static void Report(NetworkStream net, IngestProgress progress, Lock sending, CancellationToken ended)
    {
        try
        {
            while (!ended.WaitHandle.WaitOne(ProgressEvery))
            {
                lock (sending)
                    Send(net, ProgressLine(progress));
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The ingest sees the closed connection itself and rolls back.
        }
    }

    private static string ProgressLine(IngestProgress p) =>
        string.Create(CultureInfo.InvariantCulture, $"p {p.BytesRead} {p.BlocksWritten} {p.StoredBlocks}\n");

    private static void ServeRestore(Volume volume, string name, NetworkStream net, CancellationToken stop, Action<string> log)
    {
        var frames = new FrameStream(net);
        string reply;
        try
        {
            var (bytes, elapsed) = BackupRestore.Run(volume, name, frames, cancellation: stop);
            reply = string.Create(CultureInfo.InvariantCulture, $"0\n{bytes} {elapsed.TotalSeconds}");
        }
        catch (Exception e) when (e is not OutOfMemoryException and not IOException || e is InvalidDataException)
        {
            reply = Code(e) + "\n" + e.Message;
        }
        frames.WriteEnd();
        Send(net, reply);
        log($"restored backup '{name}'");
    }

    private static int Code(Exception e) => e switch
    {
        ArgumentException or FormatException => CommandRunner.UsageError,
        CorruptMetadataException => CommandRunner.Damaged,
        OperationCanceledException => Cancellation.Interrupted,
        _ => CommandRunner.Failed,
    };

    private static void Send(NetworkStream net, string text)
    {
        net.Write(Encoding.UTF8.GetBytes(text));
        net.Flush();
    }

    // ---- client side ----

    private static Socket? Connect(string pool)
    {
        var path = LiveQuery.SocketPath(pool);
        if (!File.Exists(path))
            return null;
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null; // a stale socket from a killed mount: open the pool ourselves
        }
    }

    /// <summary>
    /// Ingests through a running mount of <paramref name="pool"/>; false when none answers.
    /// On success <paramref name="summaryJson"/> holds the mount's summary. With
    /// <paramref name="progress"/>, the mount reports its figures there as it goes.
    /// </summary>
    public static bool TryIngest(string pool, IngestRequest request, Stream input, CancellationToken cancellation, out int exitCode, out string? summaryJson,
        IngestProgress? progress = null)
    {
        (exitCode, summaryJson) = (0, null);
        using var socket = Connect(pool);
        if (socket is null)
            return false;
        using var net = new NetworkStream(socket, ownsSocket: false);
        using var abort = cancellation.Register(socket.Dispose); // Ctrl-C: the mount sees the connection close and rolls back
        try
        {
            Send(net, "ingest " + JsonSerializer.Serialize(request with { Progress = progress is not null }) + "\n");
            var status = ReadLine(net);
            if (status != "0")
                return Fail(status, ReadToEnd(net), out exitCode);
            // The mount answers while the stream goes out: progress lines, then its reply.
            var replies = Task.Run(() => ReadReply(net, progress));
            var frames = new FrameStream(net);
            var buffer = new byte[1 << 20];
            try
            {
                int n;
                while ((n = input.Read(buffer, 0, buffer.Length)) > 0)
                    frames.Write(buffer, 0, n);
                frames.WriteEnd();
            }
            catch (Exception e) when (e is IOException or SocketException && !cancellation.IsCancellationRequested)
            {
                // The mount stopped reading (a full pool, say): its reply says why.
                var reply = replies.GetAwaiter().GetResult();
                if (reply.Length == 0)
                    throw;
                var newline = reply.IndexOf('\n', StringComparison.Ordinal);
                return Fail(newline < 0 ? "1" : reply[..newline], newline < 0 ? reply : reply[(newline + 1)..], out exitCode);
            }
            var final = replies.GetAwaiter().GetResult();
            cancellation.ThrowIfCancellationRequested();
            var split = final.IndexOf('\n', StringComparison.Ordinal);
            if (split < 0 || final[..split] != "0")
                return Fail(split < 0 ? "1" : final[..split], split < 0 ? "the mount closed the connection" : final[(split + 1)..], out exitCode);
            summaryJson = final[(split + 1)..];
            return true;
        }
        catch (Exception e) when ((e is IOException or SocketException or ObjectDisposedException) && cancellation.IsCancellationRequested)
        {
            throw new OperationCanceledException("interrupted", e, cancellation);
        }
    }

    /// <summary>Restores through a running mount; false when none answers.</summary>
    public static bool TryRestore(string pool, string name, Stream output, CancellationToken cancellation, out int exitCode, out long bytes)
    {
        (exitCode, bytes) = (0, 0);
        using var socket = Connect(pool);
        if (socket is null)
            return false;
        using var net = new NetworkStream(socket, ownsSocket: false);
        using var abort = cancellation.Register(socket.Dispose);
        try
        {
            Send(net, "restore " + name + "\n");
            var frames = new FrameStream(net);
            var buffer = new byte[1 << 20];
            int n;
            while ((n = frames.Read(buffer, 0, buffer.Length)) > 0)
            {
                output.Write(buffer, 0, n);
                bytes += n;
            }
            output.Flush();
            var final = ReadToEnd(net);
            var split = final.IndexOf('\n', StringComparison.Ordinal);
            if (split < 0 || final[..split] != "0")
                return Fail(split < 0 ? "1" : final[..split], split < 0 ? "the mount closed the connection" : final[(split + 1)..], out exitCode);
            return true;
        }
        catch (Exception e) when ((e is IOException or SocketException or ObjectDisposedException) && cancellation.IsCancellationRequested)
        {
            throw new OperationCanceledException("interrupted", e, cancellation);
        }
    }

    private static bool Fail(string status, string message, out int exitCode)
    {
        exitCode = int.TryParse(status, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code > 0 ? code : CommandRunner.Failed;
        Console.Error.WriteLine($"dvdo: {message.TrimEnd()}");
        return true;
    }

    private static string ReadLine(Stream s)
    {
        var line = new List<byte>();
        int b;
        while ((b = s.ReadByte()) >= 0 && b != '\n')
            line.Add((byte)b);
        if (b < 0 && line.Count == 0)
            throw new IOException("the mount closed the connection");
        return Encoding.UTF8.GetString([.. line]);
    }

    /// <summary>The mount's reply to an ingest (status line and the rest), passing the progress lines before it to <paramref name="progress"/>; empty if the connection fails first.</summary>
    private static string ReadReply(Stream s, IngestProgress? progress)
    {
        using var reader = new StreamReader(s, Encoding.UTF8, leaveOpen: true);
        try
        {
            while (reader.ReadLine() is { } line)
            {
                var f = line.Split(' ');
                if (f is ["p", var read, var written, var stored])
                {
                    progress?.Report(long.Parse(read, CultureInfo.InvariantCulture), long.Parse(written, CultureInfo.InvariantCulture), long.Parse(stored, CultureInfo.InvariantCulture));
                    continue;
                }
                return line + "\n" + reader.ReadToEnd();
            }
            return "";
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return "";
        }
    }

    private static string ReadToEnd(Stream s)
    {
        using var reader = new StreamReader(s, Encoding.UTF8, leaveOpen: true);
        try
        {
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }
}
