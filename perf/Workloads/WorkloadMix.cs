using System.Diagnostics.CodeAnalysis;

namespace DataflowVdo.Workloads;

/// <summary>
/// A named write mix of docs/workloads.md: the percentage of zero, duplicate, corpus and random
/// blocks. The four percentages are whole numbers that add up to 100. Instances are immutable;
/// the named ones are the only mixes whose figures are comparable between runs.
/// </summary>
public sealed class WorkloadMix
{
    /// <summary>100% random: dedupe and compression find nothing; the cost of trying.</summary>
    public static readonly WorkloadMix Unique = new("unique", zero: 0, duplicate: 0, corpus: 0, random: 100);

    /// <summary>100% corpus (LZ4 ≈ 2:1 on the default corpus): compression without dedupe.</summary>
    public static readonly WorkloadMix Compressible = new("compressible", zero: 0, duplicate: 0, corpus: 100, random: 0);

    /// <summary>10% corpus, 90% duplicate: dedupe-heavy, verify reads dominate.</summary>
    public static readonly WorkloadMix Dup = new("dup", zero: 0, duplicate: 90, corpus: 10, random: 0);

    /// <summary>100% zero: the zero-elimination path.</summary>
    public static readonly WorkloadMix Zero = new("zero", zero: 100, duplicate: 0, corpus: 0, random: 0);

    /// <summary>5% zero, 50% duplicate, 45% corpus: the headline workload.</summary>
    public static readonly WorkloadMix Mixed = new("mixed", zero: 5, duplicate: 50, corpus: 45, random: 0);

    /// <summary>Reads of blocks written by <see cref="Mixed"/>; the blocks are generated with the mixed mix.</summary>
    public static readonly WorkloadMix Read = new("read", zero: 5, duplicate: 50, corpus: 45, random: 0, isRead: true);

    /// <summary>Issue-2 baseline: 50% duplicate, 50% random, so dedupe is the only saving.</summary>
    public static readonly WorkloadMix Dup50 = new("dup50", zero: 0, duplicate: 50, corpus: 0, random: 50);

    /// <summary>Every named mix, in the order help text lists them.</summary>
    public static IReadOnlyList<WorkloadMix> All { get; } = [Unique, Compressible, Dup, Zero, Mixed, Read, Dup50];

    /// <summary>Creates a mix; the percentages must be non-negative and add up to 100.</summary>
    public WorkloadMix(string name, int zero, int duplicate, int corpus, int random, bool isRead = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfNegative(zero);
        ArgumentOutOfRangeException.ThrowIfNegative(duplicate);
        ArgumentOutOfRangeException.ThrowIfNegative(corpus);
        ArgumentOutOfRangeException.ThrowIfNegative(random);
        if (zero + duplicate + corpus + random != 100)
        {
            throw new ArgumentException(
                $"Mix '{name}' percentages add up to {zero + duplicate + corpus + random}, not 100.", nameof(random));
        }

        Name = name;
        ZeroPercent = zero;
        DuplicatePercent = duplicate;
        CorpusPercent = corpus;
        RandomPercent = random;
        IsRead = isRead;
    }

    public string Name { get; }

    public int ZeroPercent { get; }

    public int DuplicatePercent { get; }

    public int CorpusPercent { get; }

    public int RandomPercent { get; }

    /// <summary>True for <c>read</c>: the blocks are written first and the measured operation is the read.</summary>
    public bool IsRead { get; }

    /// <summary>True when blocks of this mix come from a <see cref="Corpus"/>.</summary>
    public bool NeedsCorpus => CorpusPercent > 0;

    /// <summary>The percentage of <paramref name="kind"/> in this mix.</summary>
    public int PercentOf(BlockKind kind) => kind switch
    {
        BlockKind.Zero => ZeroPercent,
        BlockKind.Duplicate => DuplicatePercent,
        BlockKind.Corpus => CorpusPercent,
        BlockKind.Random => RandomPercent,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>
    /// The named mix called <paramref name="name"/> (case-insensitive).
    /// </summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="All"/>; the message lists them.</exception>
    public static WorkloadMix Parse(string name)
    {
        if (TryParse(name, out var mix))
        {
            return mix;
        }

        throw new ArgumentException(
            $"Unknown workload '{name}'. Valid workloads: {string.Join(", ", All.Select(m => m.Name))}.", nameof(name));
    }

    /// <summary>Looks up a named mix without throwing.</summary>
    public static bool TryParse(string? name, [NotNullWhen(true)] out WorkloadMix? mix)
    {
        mix = All.FirstOrDefault(m => string.Equals(m.Name, name?.Trim(), StringComparison.OrdinalIgnoreCase));
        return mix is not null;
    }

    /// <summary>"mixed (zero 5%, duplicate 50%, corpus 45%, random 0%)".</summary>
    public string Describe() =>
        $"{Name} (zero {ZeroPercent}%, duplicate {DuplicatePercent}%, corpus {CorpusPercent}%, random {RandomPercent}%)";

    /// <inheritdoc />
    public override string ToString() => Name;
}
