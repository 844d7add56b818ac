using DataflowVdo.Workloads;

namespace DataflowVdo.Tests.Workloads;

[TestFixture]
public sealed class CorpusTests
{
    private const int B = BlockBytes.Size;

    // A block whose every byte is marker, except where a test zero-pads it.
    private static byte[] Filled(int length, byte marker) => Enumerable.Repeat(marker, length).ToArray();

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>
    /// Layout (ordinal order: '.' &lt; '/' &lt; letters):
    /// .hidden (1 slice, marker 1), a.dat (1.5 slices: 2, then 3 zero-padded), a/z.dat (marker 4),
    /// b.dat (5, an all-zero slice, 6), c.zero (all zeros), d.empty (empty), e.link (symlink to b.dat).
    /// </summary>
    private static TempCorpusFolder BuildLayout()
    {
        var folder = new TempCorpusFolder();
        folder.Write("b.dat", Concat(Filled(B, 5), new byte[B], Filled(B, 6)));
        folder.Write("a.dat", Concat(Filled(B, 2), Filled(B / 2, 3)));
        folder.Write("a/z.dat", Filled(B, 4));
        folder.Write(".hidden", Filled(B, 1));
        folder.Write("c.zero", new byte[3 * B]);
        folder.Write("d.empty", []);
        File.CreateSymbolicLink(Path.Combine(folder.Path, "e.link"), Path.Combine(folder.Path, "b.dat"));
        return folder;
    }

    private static List<byte[]> ReadAll(Corpus corpus)
    {
        var blocks = new List<byte[]>();
        byte[] block = new byte[B];
        while (corpus.TryRead(block))
        {
            blocks.Add((byte[])block.Clone());
        }

        return blocks;
    }

    [Test]
    public void Slices_come_file_by_file_in_ordinal_path_order_without_zero_slices()
    {
        using var folder = BuildLayout();
        using var corpus = new Corpus(folder.Path, wrapAround: false);

        var blocks = ReadAll(corpus);

        Assert.That(blocks.Select(b => b[0]), Is.EqualTo(new byte[] { 1, 2, 3, 4, 5, 6 }));
        Assert.That(blocks.Any(b => BlockBytes.IsZero(b)), Is.False);
        Assert.That(corpus.Files.Select(Path.GetFileName), Is.EqualTo(new[] { ".hidden", "a.dat", "z.dat", "b.dat", "c.zero" }));
    }

    [Test]
    public void Last_slice_of_a_file_is_zero_padded()
    {
        using var folder = BuildLayout();
        using var corpus = new Corpus(folder.Path, wrapAround: false);

        byte[] padded = ReadAll(corpus)[2];

        Assert.Multiple(() =>
        {
            Assert.That(padded.AsSpan(0, B / 2).ContainsAnyExcept((byte)3), Is.False);
            Assert.That(BlockBytes.IsZero(padded.AsSpan(B / 2)), Is.True);
        });
    }

    [Test]
    public void Wraps_around_to_the_first_slice_when_exhausted()
    {
        using var folder = BuildLayout();
        using var corpus = new Corpus(folder.Path);
        byte[] block = new byte[B];
        var markers = new List<byte>();

        for (int i = 0; i < 8; i++)
        {
            corpus.Read(block);
            markers.Add(block[0]);
        }

        Assert.That(markers, Is.EqualTo(new byte[] { 1, 2, 3, 4, 5, 6, 1, 2 }));
        Assert.That(corpus.Wraps, Is.EqualTo(1));
    }

    [Test]
    public void Without_wrap_around_an_exhausted_corpus_throws()
    {
        using var folder = BuildLayout();
        using var corpus = new Corpus(folder.Path, wrapAround: false);
        ReadAll(corpus);

        Assert.Throws<InvalidOperationException>(() => corpus.Read(new byte[B]));
    }

    [Test]
    public void A_corpus_of_only_zeros_throws_instead_of_spinning()
    {
        using var folder = new TempCorpusFolder();
        folder.Write("zeros", new byte[2 * B]);
        using var corpus = new Corpus(folder.Path);

        Assert.Throws<InvalidOperationException>(() => corpus.Read(new byte[B]));
    }

    [Test]
    public void CountBlocks_and_ratio_do_not_move_the_read_position()
    {
        using var folder = BuildLayout();
        using var corpus = new Corpus(folder.Path, wrapAround: false);
        byte[] block = new byte[B];
        corpus.Read(block);

        Assert.That(corpus.CountBlocks(), Is.EqualTo(6));
        Assert.That(corpus.MeasureLz4Ratio(), Is.GreaterThan(0).And.LessThan(0.1), "runs of one byte compress very well");
        corpus.Read(block);
        Assert.That(block[0], Is.EqualTo(2));
    }

    [Test]
    public void Sample_is_spread_evenly_over_the_whole_corpus()
    {
        using var folder = BuildLayout();
        using var corpus = new Corpus(folder.Path);

        var sample = corpus.Sample(3);

        Assert.That(Enumerable.Range(0, sample.Count).Select(i => sample[i][0]), Is.EqualTo(new byte[] { 1, 3, 5 }));
        Assert.That(sample.Kinds, Is.All.EqualTo(BlockKind.Corpus));
        Assert.That(corpus.Sample(0).Count, Is.EqualTo(6));
    }

    [Test]
    public void Lz4_ratio_of_random_data_is_one()
    {
        using var folder = new TempCorpusFolder();
        byte[] noise = new byte[8 * B];
        new Random(7).NextBytes(noise);
        folder.Write("noise", noise);
        using var corpus = new Corpus(folder.Path);

        Assert.That(corpus.MeasureLz4Ratio(), Is.EqualTo(1.0));
    }

    [Test]
    public void Missing_folder_is_reported()
    {
        Assert.Throws<DirectoryNotFoundException>(() => _ = new Corpus("/nonexistent/dvdo-corpus"));
    }
}
