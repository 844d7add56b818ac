using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Images;

/// <summary><c>dvdo image create|ls|rm</c>, <c>dvdo format --image</c>, and the exclusive lock on the pool file.</summary>
[NonParallelizable]
public sealed class ImageCliTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"dvdo-image-cli-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    [Test]
    [CancelAfter(60_000)]
    public void CreateListRemoveImages()
    {
        var pool = Path.Combine(_dir, "p.pool");
        var format = Run("format", pool, "--physical-size", "64M", "--logical-size", "1G", "--slab-size", "8M", "--image", "vm=16M", "--image", "small disk=8K");
        Assert.That(format.Code, Is.Zero, format.Err);
        Assert.That(format.Out, Does.Contain("created image 'vm'").And.Contain("created image 'small disk'"));

        var create = Run("image", "create", pool, "data", "--size", "1G");
        Assert.That(create.Code, Is.Zero, create.Err);
        Assert.That(create.Out, Does.Contain("grew the pool's logical size from 1.0 GiB to 1.0"),
            "vm and small disk use part of the 1 GiB: the pool grows rather than refuse");
        Assert.That(Run("image", "create", pool, "more", "--size", "100T").Err, Does.Contain("can grow to at most"));

        Assert.Multiple(() =>
        {
            Assert.That(Run("image", "create", pool, "data", "--size", "4K").Err, Does.Contain("already exists"));
            Assert.That(Run("image", "create", pool, "x", "--size", "5000").Code, Is.EqualTo(2));
            Assert.That(Run("image", "create", pool, "a/b", "--size", "4K").Err, Does.Contain("'/'"));
            Assert.That(Run("image", "create", pool, "..", "--size", "4K").Code, Is.EqualTo(2));
            Assert.That(Run("image", "rm", pool, "nope").Err, Does.Contain("no image named 'nope'"));
        });

        using (var volume = PoolFileForTest(pool))
        {
            volume.Write(volume.FindImage("vm")!.FirstLbn, Enumerable.Repeat((byte)7, 4096).ToArray());
            volume.Write(volume.FindImage("vm")!.FirstLbn + 1, Enumerable.Repeat((byte)7, 4096).ToArray());
        }
        var ls = Run("image", "ls", pool);
        Assert.That(ls.Code, Is.Zero, ls.Err);
        var lines = ls.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Does.StartWith("NAME").And.Contain("KIND").And.Contain("WRITTEN").And.Contain("SAVED"));
        Assert.That(lines.Skip(1).Select(l => l.Split("  ")[0].Trim()), Is.EqualTo(new[] { "vm", "small disk", "data" }));
        Assert.That(lines[1], Does.Contain("block").And.Contain("16.0 MiB").And.Match(@"\s2\s+50\.0%"));

        var rm = Run("image", "rm", pool, "vm");
        Assert.That(rm.Code, Is.Zero, rm.Err);
        Assert.That(Run("image", "ls", pool).Out, Does.Not.Contain("vm "));
        Assert.That(Run("check", pool).Code, Is.Zero);
    }

    /// <summary>The FUSE recipe's first try: a VM image larger than the pool (thin: it costs nothing until written).</summary>
    [Test]
    [CancelAfter(60_000)]
    public void FormatWithoutALogicalSizePicksOneThatHoldsImagesLargerThanThePool()
    {
        var pool = Path.Combine(_dir, "p.pool");
        var format = Run("format", pool, "--physical-size", "64M", "--slab-size", "8M", "--image", "vm=2G", "--image", "odd=1000K", "--image", "data=300M");
        Assert.That(format.Code, Is.Zero, format.Err);
        Assert.That(format.Out, Does.Contain("chosen to hold the images"));
        using (var volume = PoolFileForTest(pool))
        {
            Assert.That(volume.Images.Select(i => i.SizeBytes), Is.EqualTo(new[] { 2L << 30, 1000L << 10, 300L << 20 }));
            Assert.That(format.Out, Does.Contain($"logical {DataflowVdo.Cli.SizeParser.Format(volume.LogicalBlocks * 4096)} (thin, chosen to hold the images"));
            foreach (var image in volume.Images)
            {
                var last = image.FirstLbn + (image.SizeBytes / 4096) - 1;
                volume.Write(image.FirstLbn, Content.Random(image.Slot * 2));
                volume.Write(last, Content.Random((image.Slot * 2) + 1));
            }
        }
        using (var volume = PoolFileForTest(pool))
        {
            var block = new byte[4096];
            foreach (var image in volume.Images)
            {
                volume.Read(image.FirstLbn, block);
                Assert.That(block, Is.EqualTo(Content.Random(image.Slot * 2)), image.Name);
                volume.Read(image.FirstLbn + (image.SizeBytes / 4096) - 1, block);
                Assert.That(block, Is.EqualTo(Content.Random((image.Slot * 2) + 1)), image.Name);
            }
            Assert.That(volume.Check(), Is.Empty);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public void AnExplicitLogicalSizeThatCannotHoldTheImagesIsAClearError()
    {
        var pool = Path.Combine(_dir, "p.pool");
        var r = Run("format", pool, "--physical-size", "64M", "--slab-size", "8M", "--logical-size", "1G", "--image", "vm=2G");
        Assert.That(r.Code, Is.EqualTo(2));
        Assert.That(r.Err, Does.Contain("the images need a logical size of 2.0 GiB but --logical-size is 1.0 GiB").And.Contain("3.2 MiB block-map page boundary"));
        Assert.That(File.Exists(pool), Is.False, "nothing is written");
    }

    [Test]
    [CancelAfter(60_000)]
    public void BadImageSpecsFailTheFormatBeforeAnythingIsWritten()
    {
        var pool = Path.Combine(_dir, "p.pool");
        foreach (var spec in new[] { "novalue", "=1M", "x=", "a/b=1M", "x=5000" })
        {
            var r = Run("format", pool, "--physical-size", "64M", "--slab-size", "8M", "--image", spec);
            Assert.That(r.Code, Is.EqualTo(2), spec);
            Assert.That(File.Exists(pool), Is.False, spec);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public void ASecondWriterIsRefused()
    {
        var pool = Path.Combine(_dir, "p.pool");
        Assert.That(Run("format", pool, "--physical-size", "64M", "--slab-size", "8M", "--image", "vm=1M").Code, Is.Zero);
        using (var holder = FileBlockDevice.Open(pool))
        {
            foreach (var args in new[] { new[] { "image", "ls", pool }, ["image", "create", pool, "x", "--size", "4K"], ["stats", pool],
                         ["format", pool, "--physical-size", "64M", "--slab-size", "8M", "--force"] })
            {
                var r = Run(args);
                Assert.That(r.Code, Is.EqualTo(1), string.Join(' ', args));
                Assert.That(r.Err, Does.Contain("in use by another process (mounted?"), string.Join(' ', args));
            }
            Assert.That(Assert.Throws<IOException>(() => FileBlockDevice.Open(pool))!.Message, Does.Contain("in use"));
        }
        // format --force did not truncate the pool it could not lock.
        Assert.That(Run("image", "ls", pool).Out, Does.Contain("vm"));
    }

    private static Volume PoolFileForTest(string path) => Volume.Open(FileBlockDevice.Open(path), ownsDevice: true);
}
