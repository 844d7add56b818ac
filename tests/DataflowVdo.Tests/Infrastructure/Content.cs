using System.Text;
using DataflowVdo.Storage;

namespace DataflowVdo.Tests.Infrastructure;

/// <summary>Block contents with known reduction properties, made deterministically from a number.</summary>
public static class Content
{
    /// <summary>Incompressible, unique per <paramref name="id"/>.</summary>
    public static byte[] Random(int id)
    {
        var b = new byte[VdoConstants.BlockSize];
        new Random(id * 7919 + 17).NextBytes(b);
        return b;
    }

    /// <summary>Compresses to well under half a block (text), unique per <paramref name="id"/>.</summary>
    public static byte[] Compressible(int id)
    {
        var b = new byte[VdoConstants.BlockSize];
        var text = Encoding.ASCII.GetBytes($"block {id:D8}: the quick brown fox jumps over the lazy dog; ");
        for (var i = 0; i < b.Length; i++)
            b[i] = text[i % text.Length];
        BitConverter.TryWriteBytes(b.AsSpan(100), id);
        return b;
    }

    /// <summary>All zeros.</summary>
    public static byte[] Zero() => new byte[VdoConstants.BlockSize];

    /// <summary>Content of a class: 0 zero, 1 random, 2 compressible.</summary>
    public static byte[] Of(int kind, int id) => kind switch
    {
        0 => Zero(),
        1 => Random(id),
        _ => Compressible(id),
    };
}
