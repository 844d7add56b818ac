using System.Globalization;

namespace DataflowVdo.Workloads;

/// <summary>
/// The corpus of docs/workloads.md: every regular file under a folder, in ordinal order of the
/// full path, read as consecutive 4 KiB slices (the last slice of a file zero-padded) with
/// all-zero slices skipped. Symbolic links, empty and special files, and files that cannot be
/// read are skipped. The file list is taken once, when the corpus is opened; the data is read
/// lazily as blocks are asked for. Not thread-safe.
/// </summary>
public sealed class Corpus : IDisposable
{
    /// <summary>The installed .NET SDK: ~4,900 files, ~153,000 non-zero blocks, LZ4 ratio ≈ 0.59.</summary>
    public const string DefaultPath = "/usr/share/dotnet";

    /// <summary>
    /// <see cref="DefaultPath"/> where it exists (the figures in perf/README.md use it), else the
    /// root of the .NET installation running this process (the same kind of files), so demos work
    /// wherever .NET is installed.
    /// </summary>
    public static string DefaultOrInstalledPath()
    {
        if (Directory.Exists(DefaultPath))
            return DefaultPath;
        // .../dotnet/shared/Microsoft.NETCore.App/<version>/ → .../dotnet
        var runtime = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory();
        var root = Directory.GetParent(runtime.TrimEnd(System.IO.Path.DirectorySeparatorChar))?.Parent?.Parent;
        return root?.FullName ?? runtime;
    }

    private readonly string[] _files;
    private CorpusReader _reader;
    private bool _yieldedThisPass;
    private long? _blockCount;

    /// <summary>Lists the files under <paramref name="path"/>.</summary>
    /// <param name="path">The corpus folder; <see cref="DefaultPath"/> when null.</param>
    /// <param name="wrapAround">Start over from the first file when the last one is done, instead of failing.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public Corpus(string? path = null, bool wrapAround = true)
    {
        Path = System.IO.Path.GetFullPath(path ?? DefaultPath);
        if (!Directory.Exists(Path))
        {
            throw new DirectoryNotFoundException($"Corpus folder '{Path}' does not exist.");
        }

        WrapAround = wrapAround;
        _files = ListFiles(Path);
        _reader = new CorpusReader(_files);
    }

    /// <summary>The corpus folder, as a full path.</summary>
    public string Path { get; }

    /// <summary>Whether <see cref="Read"/> starts over at the end instead of failing.</summary>
    public bool WrapAround { get; }

    /// <summary>The files, in the order their slices are yielded.</summary>
    public IReadOnlyList<string> Files => _files;

    /// <summary>How many times <see cref="Read"/> has started over from the first file.</summary>
    public int Wraps { get; private set; }

    /// <summary>Blocks handed out by <see cref="Read"/> and <see cref="TryRead"/> since opening or <see cref="Reset"/>.</summary>
    public long BlocksRead { get; private set; }

    /// <summary>
    /// Fills <paramref name="block"/> (4096 bytes) with the next slice. At the end of the corpus,
    /// starts over if <see cref="WrapAround"/>, otherwise returns false.
    /// </summary>
    /// <exception cref="InvalidOperationException">The corpus has no non-zero slice at all.</exception>
    public bool TryRead(Span<byte> block)
    {
        if (block.Length != BlockBytes.Size)
        {
            ThrowHelper.WrongBlockSize(nameof(block), block.Length);
        }

        if (_reader.TryRead(block))
        {
            _yieldedThisPass = true;
            BlocksRead++;
            return true;
        }

        if (!WrapAround)
        {
            return false;
        }

        if (!_yieldedThisPass)
        {
            ThrowHelper.CorpusEmpty(Path);
        }

        StartPass();
        Wraps++;
        return TryRead(block);
    }

    /// <summary>Like <see cref="TryRead"/>, but an exhausted corpus without wrap-around throws.</summary>
    /// <exception cref="InvalidOperationException">The corpus is exhausted or empty.</exception>
    public void Read(Span<byte> block)
    {
        if (!TryRead(block))
        {
            ThrowHelper.CorpusExhausted(Path);
        }
    }

    /// <summary>Goes back to the first slice of the first file.</summary>
    public void Reset()
    {
        StartPass();
        Wraps = 0;
        BlocksRead = 0;
    }

    /// <summary>
    /// The number of non-zero slices in one pass. Reads the whole corpus the first time
    /// (about a second for the default corpus when it is in the page cache); cached afterwards.
    /// Does not move the position of <see cref="Read"/>.
    /// </summary>
    public long CountBlocks()
    {
        if (_blockCount is { } known)
        {
            return known;
        }

        long count = 0;
        byte[] block = new byte[BlockBytes.Size];
        using (var pass = new CorpusReader(_files))
        {
            while (pass.TryRead(block))
            {
                count++;
            }
        }

        _blockCount = count;
        return count;
    }

    /// <summary>
    /// LZ4 (level fast) ratio of the corpus: the sum of min(compressed, 4096) over the sum of
    /// 4096, for the evenly spread sample of <see cref="Sample"/> (all slices when
    /// <paramref name="sampleBlocks"/> is zero). A prefix would be unrepresentative: sorted
    /// order puts thousands of XML docs first. Does not move the position of <see cref="Read"/>.
    /// </summary>
    public double MeasureLz4Ratio(int sampleBlocks = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sampleBlocks);
        (long count, long stride) = SampleShape(sampleBlocks);
        byte[] block = new byte[BlockBytes.Size];
        byte[] scratch = new byte[BlockBytes.Lz4ScratchSize];
        long compressed = 0;
        long sampled = 0;
        long index = 0;
        using var pass = new CorpusReader(_files);
        while (sampled < count && pass.TryRead(block))
        {
            if (index++ % stride == 0)
            {
                compressed += BlockBytes.Lz4CompressedSize(block, scratch);
                sampled++;
            }
        }

        return (double)compressed / (sampled * BlockBytes.Size);
    }

    /// <summary>
    /// A deterministic sample of <paramref name="blocks"/> slices spread evenly over the whole
    /// corpus (every k-th slice), for benchmarks and ratios that should stand for the corpus
    /// rather than its first files; the whole corpus when zero or more than it holds. Reads
    /// the corpus (see <see cref="CountBlocks"/>); does not move the position of <see cref="Read"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The corpus has no non-zero slice.</exception>
    public BlockSet Sample(int blocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        (long count, long stride) = SampleShape(Math.Min(blocks == 0 ? BlockSet.MaxBlocks : blocks, BlockSet.MaxBlocks));
        var sample = new BlockSet((int)count);
        int taken = 0;
        long index = 0;
        using var pass = new CorpusReader(_files);
        while (taken < count && pass.TryRead(sample[taken]))
        {
            if (index++ % stride == 0)
            {
                sample.Kinds[taken++] = BlockKind.Corpus;
            }
        }

        return sample;
    }

    /// <summary>"corpus=/usr/share/dotnet blocks=153000 lz4Ratio=0.59" (reads the corpus once; see <see cref="CountBlocks"/>).</summary>
    public string Describe(int lz4SampleBlocks = 20_000) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"corpus={Path} blocks={CountBlocks()} lz4Ratio={MeasureLz4Ratio(lz4SampleBlocks):0.00}");

    /// <inheritdoc />
    public void Dispose() => _reader.Dispose();

    /// <summary>How many slices a sample of <paramref name="blocks"/> takes (0 = all) and every how many slices.</summary>
    private (long Count, long Stride) SampleShape(long blocks)
    {
        long total = CountBlocks();
        if (total == 0)
        {
            ThrowHelper.CorpusEmpty(Path);
        }

        long count = blocks == 0 ? total : Math.Min(blocks, total);
        return (count, total / count);
    }

    private void StartPass()
    {
        _reader.Dispose();
        _reader = new CorpusReader(_files);
        _yieldedThisPass = false;
    }

    private static string[] ListFiles(string root)
    {
        var files = new List<string>();
        var options = new EnumerationOptions
        {
            // Hidden and system files are corpus too; links are skipped so nothing is read twice
            // and a link cycle cannot trap the walk.
            AttributesToSkip = FileAttributes.ReparsePoint,
            IgnoreInaccessible = true,
            RecurseSubdirectories = false,
            ReturnSpecialDirectories = false,
        };
        var pending = new Stack<DirectoryInfo>();
        pending.Push(new DirectoryInfo(root));
        while (pending.Count > 0)
        {
            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = pending.Pop().EnumerateFileSystemInfos("*", options).ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var entry in entries)
            {
                if (entry.LinkTarget is not null)
                {
                    continue;
                }

                if (entry is DirectoryInfo directory)
                {
                    pending.Push(directory);
                }
                else if (entry is FileInfo { Length: > 0 } file)
                {
                    // Empty files have no slice; FIFOs and devices report length 0 and would block a read.
                    files.Add(file.FullName);
                }
            }
        }

        files.Sort(StringComparer.Ordinal);
        return [.. files];
    }
}
