using System.Text;
using DataflowVdo.Storage;

namespace DataflowVdo.Torture;

/// <summary>Block contents made from a number, so that the model names each value by it.</summary>
internal static class BlockContent
{
    /// <summary>Value 0 is the zero block; odd values are incompressible, even ones compress to well under half a block.</summary>
    public static byte[] Make(int value)
    {
        var b = new byte[VdoConstants.BlockSize];
        if (value == 0)
            return b;
        if (value % 2 == 1)
        {
            new Random(value).NextBytes(b);
            return b;
        }
        var text = Encoding.ASCII.GetBytes($"value {value:D9}: a compressible block for the torture run; ");
        for (var i = 0; i < b.Length; i++)
            b[i] = text[i % text.Length];
        return b;
    }
}
