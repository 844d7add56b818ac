using DataflowVdo.Storage;

namespace DataflowVdo.Blocks;

/// <summary>
/// Step "pack": gathers compressed fragments into bins and decides when a bin goes out.
/// Best fit over <see cref="BinCount"/> bins (dm-vdo: first fit over 16 bins, which writes
/// many bins holding a single large fragment). A bin is closed when it is full (14 fragments
/// or less free space than the smallest fragment seen recently), when a fragment fits nowhere
/// and no bin is empty (the fullest bin goes), on flush, and when a request needs one of its
/// members. One owner at a time.
/// </summary>
public sealed class Packer
{
    private const int Window = 256;
    private readonly PackerBin[] _bins;
    private readonly Stack<PackerBin> _spare = new();
    private readonly int[] _recent = new int[Window]; // sizes of the last fragments seen
    private int _recentNext;
    private int _recentCount;
    private int _recentMin;
    private int _smallRecent = 256;

    /// <summary>A packer with <paramref name="binCount"/> open bins.</summary>
    public Packer(int binCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(binCount, 1);
        _bins = new PackerBin[binCount];
        for (var i = 0; i < binCount; i++)
            _bins[i] = new PackerBin();
    }

    /// <summary>Number of open bins.</summary>
    public int BinCount => _bins.Length;

    /// <summary>Fragments waiting in bins.</summary>
    public int Waiting { get; private set; }

    /// <summary>
    /// Notes a fragment's size and says whether it is worth packing: false when none of the last
    /// 256 fragments could share a block with it. Such a fragment would wait in a bin for a
    /// partner that does not come, holding its request and its buffers (on fio's "50%
    /// compressible" data every fragment is ~2,115 bytes: 256 waiting requests cost 8 µs per write
    /// in cache misses, measured); the write stores the block whole instead, which takes the same
    /// space as a one-fragment packed block.
    /// </summary>
    public bool WorthPacking(int size)
    {
        var worth = _recentCount == 0 || size + _recentMin <= PackedBlock.Capacity;
        var leaving = _recentCount == Window ? _recent[_recentNext] : int.MaxValue;
        _recent[_recentNext] = size;
        _recentNext = (_recentNext + 1) % Window;
        if (_recentCount < Window)
            _recentCount++;
        if (_recentCount == 1 || size < _recentMin)
            _recentMin = size;
        else if (leaving == _recentMin)
            _recentMin = MinOf(_recent.AsSpan(0, _recentCount));
        return worth;
    }

    private static int MinOf(ReadOnlySpan<int> values)
    {
        var min = int.MaxValue;
        foreach (var v in values)
            min = Math.Min(min, v);
        return min;
    }

    /// <summary>
    /// Adds a fragment. Returns up to two bins that must be written now (<paramref name="closed"/>
    /// receives them); the caller writes them and hands them back with <see cref="Recycle"/>.
    /// </summary>
    public void Add(DataVio vio, List<PackerBin> closed)
    {
        var size = vio.FragmentSize;
        // Track a recent small fragment size: a bin with less free space than this is "full".
        _smallRecent = size < _smallRecent ? size : Math.Min(1024, _smallRecent + 1);
        var best = -1;
        var empty = -1;
        var fullest = 0;
        for (var i = 0; i < _bins.Length; i++)
        {
            var bin = _bins[i];
            if (bin.Count == 0)
            {
                if (empty < 0)
                    empty = i;
                continue;
            }
            if (bin.Fits(size) && (best < 0 || bin.Free < _bins[best].Free))
                best = i;
            if (bin.Free < _bins[fullest].Free || _bins[fullest].Count == 0)
                fullest = i;
        }
        if (best < 0)
        {
            if (empty >= 0)
            {
                best = empty;
            }
            else
            {
                closed.Add(Detach(fullest));
                best = fullest;
            }
        }
        _bins[best].Add(vio);
        Waiting++;
        var target = _bins[best];
        if (target.Count == VdoConstants.MaxFragmentsPerPackedBlock || target.Free < _smallRecent)
            closed.Add(Detach(best));
    }

    /// <summary>Closes the fullest bin (the request pool ran dry: free some requests, wasting the least space).</summary>
    public bool CloseFullest(List<PackerBin> closed)
    {
        var fullest = -1;
        for (var i = 0; i < _bins.Length; i++)
        {
            if (_bins[i].Count > 0 && (fullest < 0 || _bins[i].Free < _bins[fullest].Free))
                fullest = i;
        }
        if (fullest < 0)
            return false;
        closed.Add(Detach(fullest));
        return true;
    }

    /// <summary>Closes the bin holding <paramref name="vio"/> (a request needs it written).</summary>
    public PackerBin CloseBinOf(DataVio vio)
    {
        for (var i = 0; i < _bins.Length; i++)
        {
            if (ReferenceEquals(_bins[i], vio.Bin))
                return Detach(i);
        }
        throw new InvalidOperationException("request is not waiting in the packer");
    }

    /// <summary>Closes every bin holding a fragment that matches <paramref name="urgent"/>.</summary>
    public void CloseMatching(Func<DataVio, bool> urgent, List<PackerBin> closed)
    {
        for (var i = 0; i < _bins.Length; i++)
        {
            foreach (var f in _bins[i].Fragments)
            {
                if (urgent(f))
                {
                    closed.Add(Detach(i));
                    break;
                }
            }
        }
    }

    /// <summary>Closes every non-empty bin (flush).</summary>
    public void CloseAll(List<PackerBin> closed)
    {
        for (var i = 0; i < _bins.Length; i++)
        {
            if (_bins[i].Count > 0)
                closed.Add(Detach(i));
        }
    }

    /// <summary>Returns a written bin for reuse.</summary>
    public void Recycle(PackerBin bin)
    {
        bin.Clear();
        _spare.Push(bin);
    }

    private PackerBin Detach(int index)
    {
        var bin = _bins[index];
        _bins[index] = _spare.TryPop(out var fresh) ? fresh : new PackerBin();
        Waiting -= bin.Count;
        return bin;
    }
}
