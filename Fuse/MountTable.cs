using System.Globalization;
using System.Text;

namespace DataflowVdo.Fuse;

/// <summary>
/// Reads /proc/self/mountinfo without touching the mounts themselves (a dead FUSE mount would hang
/// a stat). Used by the tests to find and clean up mounts left behind by an aborted run.
/// </summary>
internal static class MountTable
{
    /// <summary>One mountinfo line: mount point (unescaped), file system type, source and device number.</summary>
    public readonly record struct Entry(string MountPoint, string FileSystemType, string Source, uint Major, uint Minor);

    public static IReadOnlyList<Entry> Read(string path = "/proc/self/mountinfo")
    {
        var entries = new List<Entry>();
        foreach (string line in File.ReadLines(path))
        {
            // "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw"
            string[] fields = line.Split(' ');
            int separator = fields.Length > 7 ? Array.IndexOf(fields, "-", 6) : -1;
            if (separator < 0 || separator + 2 >= fields.Length)
            {
                continue;
            }

            string[] device = fields[2].Split(':');
            if (device.Length != 2
                || !uint.TryParse(device[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint major)
                || !uint.TryParse(device[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint minor))
            {
                continue;
            }

            entries.Add(new Entry(Unescape(fields[4]), fields[separator + 1], Unescape(fields[separator + 2]), major, minor));
        }

        return entries;
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as three octal digits (of the UTF-8 bytes).</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        byte[] raw = Encoding.UTF8.GetBytes(field);
        var bytes = new List<byte>(raw.Length);
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] == (byte)'\\' && IsOctal(raw, i + 1))
            {
                bytes.Add((byte)(((raw[i + 1] - '0') << 6) | ((raw[i + 2] - '0') << 3) | (raw[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(raw[i]);
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(byte[] text, int start) =>
        start + 2 < text.Length
        && text[start] is >= (byte)'0' and <= (byte)'3'
        && text[start + 1] is >= (byte)'0' and <= (byte)'7'
        && text[start + 2] is >= (byte)'0' and <= (byte)'7';
}
