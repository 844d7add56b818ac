namespace DataflowVdo.Torture;

/// <summary>
/// What a crash may leave of each LBN and image: the value it had at the last flush that
/// succeeded (durable), and the values written since (any one of which may have landed).
/// Values are numbers; <see cref="BlockContent.Make"/> turns them into blocks (0 = zeros).
/// </summary>
internal sealed class PoolModel
{
    private readonly Dictionary<long, int> _durable = [];
    private readonly Dictionary<long, List<int>> _since = [];
    private readonly Dictionary<string, long> _images = [];          // name -> first LBN, durable
    private readonly Dictionary<string, long> _uncertain = [];       // created or removed part-way: may or may not exist

    /// <summary>The value a read must return now (the last one written).</summary>
    public int Latest(long lbn) => _since.TryGetValue(lbn, out var l) && l.Count > 0 ? l[^1] : _durable.GetValueOrDefault(lbn);

    /// <summary>A write (or discard, value 0) was issued: it may land from now on.</summary>
    public void Written(long lbn, int value)
    {
        if (!_since.TryGetValue(lbn, out var list))
            _since[lbn] = list = [];
        list.Add(value);
    }

    /// <summary>A flush succeeded: the latest value of every LBN is durable.</summary>
    public void Flushed()
    {
        foreach (var (lbn, list) in _since)
        {
            if (list.Count > 0)
                _durable[lbn] = list[^1];
        }
        _since.Clear();
    }

    /// <summary>The LBN is durably <paramref name="value"/> (a durable operation returned).</summary>
    public void Durable(long lbn, int value)
    {
        _durable[lbn] = value;
        _since.Remove(lbn);
    }

    /// <summary>Every value a recovered pool may show for <paramref name="lbn"/>.</summary>
    public IEnumerable<int> Allowed(long lbn)
    {
        yield return _durable.GetValueOrDefault(lbn);
        if (_since.TryGetValue(lbn, out var list))
        {
            foreach (var v in list)
                yield return v;
        }
    }

    public IReadOnlyDictionary<string, long> Images => _images;

    public IReadOnlyDictionary<string, long> UncertainImages => _uncertain;

    public void ImageCreated(string name, long firstLbn) => _images[name] = firstLbn;

    public void ImageRemoved(string name) => _images.Remove(name);

    /// <summary>A create or remove was cut part-way: the image may or may not exist afterwards.</summary>
    public void ImageUncertain(string name, long firstLbn)
    {
        _images.Remove(name);
        _uncertain[name] = firstLbn;
    }
}
