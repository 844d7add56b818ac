namespace DataflowVdo.Config;

/// <summary>Section <c>Pipeline:Steps</c>: one <see cref="StepOptions"/> per block of the message-passing graph.</summary>
public sealed class StepsOptions
{
    /// <summary>Worker pool: zero check and block name (XxHash128).</summary>
    public StepOptions Hash { get; set; } = new() { Parallelism = 0 };

    /// <summary>Logical zones: logical locks, block-map lookups and updates.</summary>
    public StepOptions Logical { get; set; } = new();

    /// <summary>Physical zones: allocation, reference-count pins, slab journals.</summary>
    public StepOptions Physical { get; set; } = new();

    /// <summary>Hash zones: hash locks and the dedupe index.</summary>
    public StepOptions HashZone { get; set; } = new();

    /// <summary>Worker pool: reads a dedupe candidate and compares it byte for byte (I4).</summary>
    public StepOptions Verify { get; set; } = new() { Parallelism = 0 };

    /// <summary>Worker pool: LZ4 compression.</summary>
    public StepOptions Compress { get; set; } = new() { Parallelism = 0 };

    /// <summary>The packer: bins of fragments, packed-block writes.</summary>
    public StepOptions Packer { get; set; } = new();

    /// <summary>Worker pool: data-block writes.</summary>
    public StepOptions DataWrite { get; set; } = new() { Parallelism = 0 };

    /// <summary>The recovery journal: appends, group commit, ordered reference changes.</summary>
    public StepOptions Journal { get; set; } = new();

    /// <summary>Worker pool: data-block reads and the decompression of packed fragments.</summary>
    public StepOptions Read { get; set; } = new() { Parallelism = 0 };

    /// <summary>Every step by its configuration name, in graph order.</summary>
    public IEnumerable<(string Name, StepOptions Options, bool IsZone)> All()
    {
        yield return (nameof(Hash), Hash, false);
        yield return (nameof(Logical), Logical, true);
        yield return (nameof(HashZone), HashZone, true);
        yield return (nameof(Physical), Physical, true);
        yield return (nameof(Verify), Verify, false);
        yield return (nameof(Compress), Compress, false);
        yield return (nameof(Packer), Packer, true);
        yield return (nameof(DataWrite), DataWrite, false);
        yield return (nameof(Journal), Journal, true);
        yield return (nameof(Read), Read, false);
    }
}
