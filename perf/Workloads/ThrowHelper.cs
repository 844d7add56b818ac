using System.Diagnostics.CodeAnalysis;

namespace DataflowVdo.Workloads;

/// <summary>Throws kept out of the per-block methods so those stay small enough to inline.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void WrongBlockSize(string paramName, int length) =>
        throw new ArgumentException($"A block is exactly {BlockBytes.Size} bytes; got {length}.", paramName);

    [DoesNotReturn]
    public static void CorpusExhausted(string path) =>
        throw new InvalidOperationException($"Corpus '{path}' is exhausted and was opened without wrap-around.");

    [DoesNotReturn]
    public static void CorpusEmpty(string path) =>
        throw new InvalidOperationException($"Corpus '{path}' has no readable non-zero 4 KiB slice.");
}
