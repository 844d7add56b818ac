namespace DataflowVdo.Blocks;

/// <summary>
/// Stops compressing data that does not pack. After <c>after</c> blocks in a row whose
/// compression was wasted (incompressible, or a fragment that no recent fragment could share a
/// packed block with, so it is stored whole anyway), only one block in <see cref="ProbeEvery"/>
/// is compressed, as a probe; the others are stored whole at once. The first probe that packs
/// ends it. On fio's "50% compressible" blocks (every fragment ~2,115 bytes: no two fit one
/// block) LZ4 was the largest CPU cost of a write and saved nothing; on data that packs the
/// streak never forms. A stream that turns compressible after a long incompressible one loses
/// at most <see cref="ProbeEvery"/> − 1 blocks' compression before a probe notices. Thread-safe:
/// the counts are hints, read and written without locks.
/// </summary>
public sealed class CompressionProbe(int after)
{
    /// <summary>While skipping, one block in this many is compressed to see whether packing pays again.</summary>
    public const int ProbeEvery = 16;

    private int _wasted; // compressions wasted in a row, counted up to `after`
    private int _tick;
    private long _skipped;

    /// <summary>Blocks stored whole without an attempt to compress them, since open.</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>True while compression is being skipped.</summary>
    public bool Skipping => after > 0 && Volatile.Read(ref _wasted) >= after;

    /// <summary>Whether to compress the next block (false: store it whole, counted in <see cref="Skipped"/>).</summary>
    public bool ShouldCompress()
    {
        if (!Skipping || Interlocked.Increment(ref _tick) % ProbeEvery == 0)
            return true;
        Interlocked.Increment(ref _skipped);
        return false;
    }

    /// <summary>Records what a compression attempt was worth: <paramref name="packs"/> when its fragment goes to the packer.</summary>
    public void Record(bool packs)
    {
        if (after == 0)
            return;
        if (packs)
        {
            if (Volatile.Read(ref _wasted) != 0)
                Volatile.Write(ref _wasted, 0);
        }
        else if (Volatile.Read(ref _wasted) < after)
        {
            Interlocked.Increment(ref _wasted);
        }
    }
}
