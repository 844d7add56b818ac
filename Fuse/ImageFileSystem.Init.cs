using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DataflowVdo.Fuse.Native;

namespace DataflowVdo.Fuse;

/// <summary>Connection negotiation (the FUSE INIT handshake).</summary>
internal sealed unsafe partial class ImageFileSystem
{
    /// <summary>
    /// Adjusts what libfuse offers the kernel. libfuse3 dropped max_write/max_background/... as
    /// mount options, so this is where they are set. libfuse clamps max_write to its receive
    /// buffer after init returns (256 pages = 1 MiB with 4 KiB pages) and asks the kernel for
    /// max_pages to match, so 1 MiB writes arrive as one request.
    /// </summary>
    public void Negotiate(ref FuseConnInfo connection)
    {
        connection.MaxWrite = (uint)Math.Max(4096, _options.MaxWrite);
        connection.MaxReadahead = Math.Min(connection.MaxReadahead, (uint)Math.Max(0, _options.MaxReadahead));

        // Let the kernel keep several reads (and async direct I/O pieces) in flight per file.
        connection.Want |= connection.Capable & (FuseConstants.CapAsyncRead | FuseConstants.CapAsyncDio);

        // Data never goes through the page cache (direct_io), and O_TRUNC must arrive as a
        // setattr(size) we can refuse rather than as an open flag.
        connection.Want &= ~(FuseConstants.CapWritebackCache | FuseConstants.CapAtomicOTrunc);

        // The plain write callback copies nothing extra; splice would only add a pipe round trip.
        connection.Want &= ~(FuseConstants.CapSpliceWrite | FuseConstants.CapSpliceMove | FuseConstants.CapSpliceRead);

        // libfuse's default (12) makes a deep async-I/O submitter block in the kernel (see
        // FuseMountOptions.AutomaticMaxBackground), so 0 means "enough", not "libfuse's default".
        var maxBackground = _options.MaxBackground > 0 ? _options.MaxBackground : FuseMountOptions.AutomaticMaxBackground;
        connection.MaxBackground = (uint)maxBackground;
        connection.CongestionThreshold = (uint)Math.Max(1, maxBackground * 3 / 4);

        Connection = connection;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnInit(void* userData, FuseConnInfo* connection)
    {
        // init has no reply: on failure libfuse keeps its defaults, which still work.
        try
        {
            FromUserData(userData).Negotiate(ref *connection);
        }
        catch (Exception ex)
        {
            try
            {
                FromUserData(userData).ReportError("init", ex);
            }
            catch
            {
                // Nothing to report to.
            }
        }
    }
}
