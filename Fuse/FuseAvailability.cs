using System.Runtime.InteropServices;
using DataflowVdo.Fuse.Native;

namespace DataflowVdo.Fuse;

/// <summary>
/// Whether this machine can mount FUSE file systems and, when it cannot, what is missing and which
/// packages provide it: the libfuse3 library (package libfuse3-3, at least 3.12), the
/// <c>fusermount3</c> helper (package fuse3) and the <c>/dev/fuse</c> device (the kernel's, or a
/// container's <c>--device /dev/fuse</c>). Checked without mounting anything.
/// </summary>
public static class FuseAvailability
{
    /// <summary>The Debian/Ubuntu command that installs what <c>dvdo mount</c> needs.</summary>
    public const string InstallCommand = "apt-get install fuse3 libfuse3-3";

    /// <summary>What keeps this machine from mounting, naming the missing packages; null when nothing does.</summary>
    public static string? Problem() => Probe(LibFuse.Library, "/dev/fuse", Environment.GetEnvironmentVariable("PATH"));

    /// <summary>
    /// Why libfuse3 cannot be used by this process (not installed, or older than 3.12); null when
    /// it can. Not a layout check: a binding that mismatches an installed libfuse3 is a bug, which
    /// mounting (and its test) reports (<c>NativeLayout.Verify</c>).
    /// </summary>
    public static string? LibraryProblem() => LibraryProblem(LibFuse.Library);

    /// <summary>
    /// <see cref="Problem"/> for a given library name, device path and PATH, so that a missing
    /// library can be simulated by naming one that does not exist.
    /// </summary>
    internal static string? Probe(string library, string device, string? path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "FUSE mounts need Linux.";
        }

        var missing = new List<string>();
        string? libraryProblem = LibraryProblem(library);
        if (libraryProblem is not null)
        {
            missing.Add(libraryProblem);
        }

        bool hasFusermount = path?.Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, "fusermount3"))) == true;
        if (!hasFusermount)
        {
            missing.Add("fusermount3 is not on PATH (package fuse3)");
        }

        if (!File.Exists(device))
        {
            missing.Add($"{device} is missing (no FUSE kernel module, or a container started without --device /dev/fuse)");
        }

        if (missing.Count == 0)
        {
            return null;
        }

        bool packageMissing = libraryProblem is not null || !hasFusermount;
        return string.Join("; ", missing) + (packageMissing ? $". Install with: {InstallCommand}" : ".");
    }

    /// <summary>Why <paramref name="library"/> is not a usable libfuse3 (not loadable, or too old), or null.</summary>
    internal static string? LibraryProblem(string library)
    {
        if (!NativeLibrary.TryLoad(library, out nint handle))
        {
            return $"{library} cannot be loaded (package libfuse3-3)";
        }

        try
        {
            if (!NativeLibrary.TryGetExport(handle, "fuse_version", out nint export))
            {
                return $"{library} has no fuse_version: not libfuse3 (package libfuse3-3)";
            }

            int version;
            unsafe
            {
                version = ((delegate* unmanaged<int>)export)();
            }

            if (version < NativeLayout.MinimumFuseVersion)
            {
                return $"libfuse {version / 100}.{version % 100} is too old: at least 3.12 is needed (package libfuse3-3)";
            }
        }
        finally
        {
            NativeLibrary.Free(handle);
        }

        return null;
    }
}
