using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace DataflowVdo.Storage;

/// <summary>
/// Large writes that bypass both the write cache and the page cache. A vectored write of at
/// least <see cref="DirectMinBytes"/> (a run of a request's data blocks) goes through a second
/// descriptor opened with <c>O_DIRECT</c>, from the caller's thread: the disk reads it from our
/// buffer, where a buffered write would first copy it into the page cache under the file's inode
/// lock. Measured here: 1 MiB of data cost the mount ~1.8 ms of CPU buffered, and through the
/// write cache's single writer thread 1 MiB sequential writes fell to 0.47x of this path
/// (perf/README.md). Small writes go to the write cache: a 4 KiB direct write waits for the disk
/// (~60 µs here), a cached one for a copy. Older cached copies of the run's blocks are dropped or
/// waited for first (<see cref="WriteCache.Evict"/>), so a stale cached write never lands over
/// the direct one; the kernel keeps page cache and direct writes coherent, and <c>fdatasync</c>
/// covers both (I1, I5). File systems without <c>O_DIRECT</c> keep everything in the cache.
/// </summary>
public sealed partial class FileBlockDevice
{
    /// <summary>Smallest vectored write that bypasses the page cache.</summary>
    public const int DirectMinBytes = 128 * 1024;

    /// <summary>Bytes copied into the aligned buffer per direct write.</summary>
    private const int StagingBytes = 1024 * 1024;

    private readonly ConcurrentBag<DirectSlot> _slots = []; // idle staging buffers with their AIO contexts
    private SafeFileHandle? _direct;

    /// <summary>Whether large writes bypass the page cache (the file system supports <c>O_DIRECT</c>).</summary>
    public bool DirectWrites => _direct is not null;

    /// <summary>Direct writes done so far.</summary>
    public long DirectWriteCount => Interlocked.Read(ref _directWrites);

    private long _directWrites;

    private void OpenDirect()
    {
        if (!OperatingSystem.IsLinux())
            return;
        var flags = ReadWrite | CloseOnExec | (RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? DirectArm : DirectX86);
        var fd = OpenFile(Path, flags, 0);
        if (fd >= 0)
            _direct = new SafeFileHandle(fd, ownsHandle: true);
        // Otherwise (EINVAL: no O_DIRECT on this file system) every write stays buffered.
    }

    /// <summary>Writes <paramref name="sources"/> at <paramref name="offset"/> through the direct descriptor; false if it is not for this write.</summary>
    private unsafe bool TryWriteDirect(IReadOnlyList<ReadOnlyMemory<byte>> sources, long total, long offset)
    {
        var direct = _direct;
        if (direct is null || total < DirectMinBytes || total % VdoConstants.BlockSize != 0)
            return false;
        // Whatever the cache still holds of these blocks is older: it must not land after this write.
        Cache.Evict(offset / VdoConstants.BlockSize, (int)(total / VdoConstants.BlockSize));
        // One slot per concurrent direct writer, kept for reuse and freed with the device (I8:
        // bounded by the writers, a thread that exits leaves nothing behind).
        if (!_slots.TryTake(out var slot))
            slot = DirectSlot.Create();
        try
        {
            WriteStaged(direct, slot, sources, offset);
        }
        finally
        {
            _slots.Add(slot);
        }
        Interlocked.Increment(ref _directWrites);
        return true;
    }

    private static unsafe void WriteStaged(SafeFileHandle direct, DirectSlot slot, IReadOnlyList<ReadOnlyMemory<byte>> sources, long offset)
    {
        var staging = slot.Buffer;
        var used = 0;
        foreach (var s in sources)
        {
            var source = s.Span;
            while (!source.IsEmpty)
            {
                var n = Math.Min(source.Length, StagingBytes - used);
                source[..n].CopyTo(new Span<byte>(staging + used, n));
                used += n;
                source = source[n..];
                if (used == StagingBytes)
                {
                    WriteDirect(direct, slot.Aio, staging, used, offset);
                    offset += used;
                    used = 0;
                }
            }
        }
        if (used > 0)
            WriteDirect(direct, slot.Aio, staging, used, offset);
    }

    /// <summary>Frees the staging buffers and AIO contexts (the device is being disposed: no direct write is running).</summary>
    private void FreeDirectSlots()
    {
        while (_slots.TryTake(out var slot))
            slot.Free();
    }

    /// <summary>
    /// One direct write, submitted as Linux native AIO and waited for: ext4 holds the file's inode
    /// lock for the whole of a synchronous direct write that allocates (a sparse pool file's first
    /// write of a block), so the writers of a 1 MiB stream went one at a time; an asynchronous one
    /// lets the lock go once it is submitted. Where AIO is unavailable, a plain <c>pwrite</c>.
    /// </summary>
    private static unsafe void WriteDirect(SafeFileHandle direct, nint context, byte* buffer, int length, long offset)
    {
        if (context == 0)
        {
            RandomAccess.Write(direct, new ReadOnlySpan<byte>(buffer, length), offset);
            return;
        }
        var added = false;
        direct.DangerousAddRef(ref added);
        try
        {
            var iocb = default(Iocb);
            iocb.Opcode = IocbCmdPwrite;
            iocb.Fd = (uint)direct.DangerousGetHandle();
            iocb.Buffer = (ulong)buffer;
            iocb.Bytes = (ulong)length;
            iocb.Offset = offset;
            var list = &iocb;
            long submitted;
            do
                submitted = Syscall(SysIoSubmit, context, 1, (nint)(&list), 0, 0);
            while (submitted < 0 && Marshal.GetLastPInvokeError() == EIntr);
            if (submitted != 1)
            {
                // Not queued (e.g. EAGAIN, EINVAL): the same write, synchronously.
                RandomAccess.Write(direct, new ReadOnlySpan<byte>(buffer, length), offset);
                return;
            }
            IoEvent done;
            long got;
            do
                got = Syscall(SysIoGetEvents, context, 1, 1, (nint)(&done), 0);
            while (got < 0 && Marshal.GetLastPInvokeError() == EIntr);
            if (got != 1)
                throw new IOException($"direct write of {length} bytes at offset {offset}: waiting for it failed (errno {Marshal.GetLastPInvokeError()})");
            if (done.Result < 0)
                throw new IOException($"direct write of {length} bytes at offset {offset} failed: errno {-done.Result} ({Marshal.GetPInvokeErrorMessage((int)-done.Result)})");
            if (done.Result != length)
            {
                // A short write (the disk is full under a sparse file): finish it synchronously, which reports why.
                var n = (int)done.Result;
                RandomAccess.Write(direct, new ReadOnlySpan<byte>(buffer + n, length - n), offset + n);
            }
        }
        finally
        {
            if (added)
                direct.DangerousRelease();
        }
    }

    /// <summary>A 4 KiB-aligned staging buffer and the AIO context its writes go through (0: none, <c>pwrite</c>).</summary>
    private sealed unsafe class DirectSlot
    {
        private DirectSlot(byte* buffer, nint aio)
        {
            Buffer = buffer;
            Aio = aio;
        }

        public byte* Buffer { get; }

        public nint Aio { get; }

        public static DirectSlot Create()
        {
            nint context = 0;
            var aio = OperatingSystem.IsLinux() && HasAio && Syscall(SysIoSetup, 1, (nint)(&context), 0, 0, 0) == 0 ? context : 0;
            return new DirectSlot((byte*)NativeMemory.AlignedAlloc(StagingBytes, VdoConstants.BlockSize), aio);
        }

        public void Free()
        {
            if (Aio != 0)
                _ = Syscall(SysIoDestroy, Aio, 0, 0, 0, 0);
            NativeMemory.AlignedFree(Buffer);
        }
    }

    private const ushort IocbCmdPwrite = 1;
    private static readonly bool HasAio = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;
    private static readonly nint SysIoSetup = RuntimeInformation.ProcessArchitecture switch { Architecture.X64 => 206, Architecture.Arm64 => 0, _ => 0 };
    private static readonly nint SysIoSubmit = RuntimeInformation.ProcessArchitecture switch { Architecture.X64 => 209, Architecture.Arm64 => 2, _ => 0 };
    private static readonly nint SysIoDestroy = RuntimeInformation.ProcessArchitecture switch { Architecture.X64 => 207, Architecture.Arm64 => 1, _ => 0 };
    private static readonly nint SysIoGetEvents = RuntimeInformation.ProcessArchitecture switch { Architecture.X64 => 208, Architecture.Arm64 => 4, _ => 0 };

    /// <summary>Linux <c>struct iocb</c> (little-endian, 64 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    private struct Iocb
    {
        [FieldOffset(0)] public ulong Data;
        [FieldOffset(16)] public ushort Opcode;
        [FieldOffset(20)] public uint Fd;
        [FieldOffset(24)] public ulong Buffer;
        [FieldOffset(32)] public ulong Bytes;
        [FieldOffset(40)] public long Offset;
    }

    /// <summary>Linux <c>struct io_event</c> (32 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct IoEvent
    {
        public ulong Data;
        public ulong Object;
        public long Result;
        public long Result2;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5);

    private const int ReadWrite = 2;
    private const int CloseOnExec = 0x80000;
    private const int DirectX86 = 0x4000;
    private const int DirectArm = 0x10000;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int OpenFile(string path, int flags, uint mode);
}
