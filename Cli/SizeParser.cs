using System.Globalization;

namespace DataflowVdo.Cli;

/// <summary>Parses sizes such as <c>4G</c>, <c>512M</c>, <c>1T</c>, <c>65536</c> (bytes) into 4 KiB blocks.</summary>
public static class SizeParser
{
    /// <summary>Bytes of a size with an optional K/M/G/T suffix (powers of 1024).</summary>
    public static long ParseBytes(string text, string what)
    {
        var s = text.Trim();
        if (s.Length == 0)
            throw new FormatException($"{what}: empty size");
        var multiplier = 1L;
        var suffix = char.ToUpperInvariant(s[^1]);
        if (suffix == 'B' && s.Length > 1 && char.IsLetter(s[^2]))
        {
            s = s[..^1];
            suffix = char.ToUpperInvariant(s[^1]);
        }
        var shift = suffix switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, 'P' => 50, _ => 0 };
        if (shift > 0)
        {
            multiplier = 1L << shift;
            s = s[..^1];
        }
        if (!decimal.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value <= 0)
            throw new FormatException($"{what}: '{text}' is not a size (use e.g. 4G, 512M, 1T)");
        var bytes = value * multiplier;
        if (bytes > long.MaxValue / 2)
            throw new FormatException($"{what}: '{text}' is too large");
        return (long)bytes;
    }

    /// <summary>4 KiB blocks of a size; the size must be a whole number of blocks.</summary>
    public static long ParseBlocks(string text, string what)
    {
        var bytes = ParseBytes(text, what);
        if (bytes % 4096 != 0)
            throw new FormatException($"{what}: '{text}' is not a multiple of 4 KiB");
        return bytes / 4096;
    }

    /// <summary>A human size (1 decimal, binary units).</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double v = bytes;
        var u = 0;
        while (Math.Abs(v) >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }
        return u == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{v:0.0} {units[u]}");
    }
}
