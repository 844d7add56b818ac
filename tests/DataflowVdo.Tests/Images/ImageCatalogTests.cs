using System.Text;
using DataflowVdo.Config;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Images;

/// <summary>
/// The image catalog: create/list/remove through <see cref="Volume"/>, name and size validation,
/// page-aligned first-fit extents, space coming back on remove, and durability across clean
/// reopen, crashes (nothing unflushed kept, or everything kept and torn) and damage.
/// </summary>
public sealed class ImageCatalogTests
{
    private const long Page = Geometry.EntriesPerPage;
    private const long Logical = Page * 12;

    private static readonly VdoOptions Options = TestPools.Options(SchemeKind.Inline);

    private static MemoryBlockDevice NewDevice() => new(TestPools.DeviceBlocks(4, Logical));

    private static byte[] Block(int seed)
    {
        var b = new byte[VdoConstants.BlockSize];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Test]
    [CancelAfter(60_000)]
    public void CreateListRemoveReopen()
    {
        var device = NewDevice();
        using (var v = Volume.Format(device, TestPools.Small(Logical), Options))
        {
            var a = v.CreateImage("a", 10 * 4096);
            var b = v.CreateImage("vm disk.img", (2 * Page + 1) * 4096);
            var c = v.CreateImage("c", 4096, ImageKind.Backup);
            Assert.Multiple(() =>
            {
                Assert.That(a.FirstLbn, Is.Zero);
                Assert.That(a.ExtentBlocks, Is.EqualTo(Page));
                Assert.That(b.FirstLbn, Is.EqualTo(Page));
                Assert.That(b.ExtentBlocks, Is.EqualTo(3 * Page));
                Assert.That(c.FirstLbn, Is.EqualTo(4 * Page));
                Assert.That(c.ReadOnly, Is.True);
                Assert.That(v.Images.Select(i => i.Name), Is.EqualTo(new[] { "a", "vm disk.img", "c" }));
            });
            v.RemoveImage("a");
            // First fit: the hole at LBN 0 is reused by an image that fits it, a larger one goes after c.
            var d = v.CreateImage("d", Page * 4096);
            var e = v.CreateImage("e", (Page + 1) * 4096);
            Assert.Multiple(() =>
            {
                Assert.That(d.FirstLbn, Is.Zero);
                Assert.That(e.FirstLbn, Is.EqualTo(5 * Page));
                Assert.That(v.FindImage("a"), Is.Null);
            });
        }
        using (var v = Volume.Open(device, Options))
        {
            var names = v.Images.Select(i => (i.Name, i.Kind, i.SizeBytes, i.FirstLbn)).OrderBy(i => i.FirstLbn).ToArray();
            Assert.That(names, Is.EqualTo(new[]
            {
                ("d", ImageKind.Block, Page * 4096, 0L),
                ("vm disk.img", ImageKind.Block, (2 * Page + 1) * 4096, Page),
                ("c", ImageKind.Backup, 4096L, 4 * Page),
                ("e", ImageKind.Block, (Page + 1) * 4096, 5 * Page),
            }));
            Assert.That(v.FindImage("c")!.Created, Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(5)));
        }
    }

    [TestCase("", "empty")]
    [TestCase(".", "cannot be")]
    [TestCase("..", "cannot be")]
    [TestCase("a/b", "'/'")]
    [TestCase("a\0b", "control")]
    [TestCase("a\nb", "control")]
    [TestCase("bell\u0007", "control")]
    [TestCase("del\u007f", "control")]
    [CancelAfter(60_000)]
    public void BadNamesAreRefused(string name, string expected)
    {
        using var v = Volume.Format(NewDevice(), TestPools.Small(Logical), Options);
        var e = Assert.Throws<ArgumentException>(() => v.CreateImage(name, 4096));
        Assert.That(e!.Message, Does.Contain(expected));
        Assert.That(v.Images, Is.Empty);
    }

    [Test]
    [CancelAfter(60_000)]
    public void NameLengthIsBoundedInUtf8Bytes()
    {
        using var v = Volume.Format(NewDevice(), TestPools.Small(Logical), Options);
        var longest = string.Concat(Enumerable.Repeat("é", 32)); // 64 bytes
        Assert.That(Encoding.UTF8.GetByteCount(longest), Is.EqualTo(64));
        v.CreateImage(longest, 4096);
        var e = Assert.Throws<ArgumentException>(() => v.CreateImage(longest + "x", 4096));
        Assert.That(e!.Message, Does.Contain("65 bytes"));
        Assert.That(Assert.Throws<ArgumentException>(() => v.CreateImage("\ud800x", 4096))!.Message, Does.Contain("Unicode"));
    }

    [Test]
    [CancelAfter(60_000)]
    public void DuplicatesBadSizesUnknownNamesAndFullSpaceAreClearErrors()
    {
        using var v = Volume.Format(NewDevice(), TestPools.Small(Logical), Options);
        v.CreateImage("x", 4096);
        Assert.Multiple(() =>
        {
            Assert.That(Assert.Throws<ArgumentException>(() => v.CreateImage("x", 8192))!.Message, Does.Contain("already exists"));
            Assert.That(Assert.Throws<ArgumentException>(() => v.CreateImage("y", 0))!.Message, Does.Contain("multiple of 4096"));
            Assert.That(Assert.Throws<ArgumentException>(() => v.CreateImage("y", 4097))!.Message, Does.Contain("multiple of 4096"));
            Assert.That(Assert.Throws<ArgumentException>(() => v.CreateImage("y", -4096))!.Message, Does.Contain("multiple of 4096"));
            Assert.That(Assert.Throws<ArgumentException>(() => v.RemoveImage("nope"))!.Message, Does.Contain("no image named 'nope'"));
            Assert.That(Assert.Throws<ArgumentException>(() => v.ImageStats("nope"))!.Message, Does.Contain("no image named"));
            Assert.That(Assert.Throws<VdoException>(() => v.CreateImage("huge", Logical * 4096))!.Message, Does.Contain("no free logical space"));
        });
        // The rest of the logical space (11 pages) still fits exactly.
        var rest = v.CreateImage("rest", (Logical - Page) * 4096);
        Assert.That(rest.FirstLbn + rest.ExtentBlocks, Is.EqualTo(Logical));
        Assert.That(v.ReadOnlyReason, Is.Null);
    }

    [Test]
    [CancelAfter(60_000)]
    public void RemoveDiscardsTheExtentAndTheSpaceComesBack()
    {
        using var v = Volume.Format(NewDevice(), TestPools.Small(Logical), Options);
        var keep = v.CreateImage("keep", 4 * 4096);
        var gone = v.CreateImage("gone", 600 * 4096);
        v.Write(keep.FirstLbn, Block(1));
        for (var i = 0; i < 600; i++)
            v.Write(gone.FirstLbn + i, i < 500 ? Block(100 + i) : new byte[4096]);
        v.Flush();
        var stats = v.ImageStats("gone");
        Assert.Multiple(() =>
        {
            Assert.That(stats.BlocksWritten, Is.EqualTo(600));
            Assert.That(stats.ZeroBlocks, Is.EqualTo(100));
            Assert.That(stats.PhysicalBlocks, Is.EqualTo(500).Within(0.001));
            Assert.That(stats.SavingPercent, Is.EqualTo(100.0 / 6).Within(0.01));
        });
        var used = v.GetStatistics().DataBlocksUsed;
        v.RemoveImage("gone");
        Assert.That(v.GetStatistics().DataBlocksUsed, Is.EqualTo(used - 500));
        // A new image in the same extent reads as zeros.
        var again = v.CreateImage("again", 600 * 4096);
        Assert.That(again.FirstLbn, Is.EqualTo(gone.FirstLbn));
        var buffer = new byte[4096];
        v.Read(again.FirstLbn + 7, buffer);
        Assert.That(buffer, Is.All.Zero);
        Assert.That(v.ImageStats("again").BlocksWritten, Is.Zero);
        v.Read(keep.FirstLbn, buffer);
        Assert.That(buffer, Is.EqualTo(Block(1)));
        Assert.That(v.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(60_000)]
    public void SharedBlocksAreChargedByShare()
    {
        using var v = Volume.Format(NewDevice(), TestPools.Small(Logical), Options);
        var a = v.CreateImage("a", 100 * 4096);
        var b = v.CreateImage("b", 100 * 4096);
        for (var i = 0; i < 10; i++)
        {
            v.Write(a.FirstLbn + i, Block(7));
            v.Write(b.FirstLbn + i, Block(7));
        }
        v.Flush();
        var sa = v.ImageStats("a");
        var sb = v.ImageStats("b");
        Assert.That(sa.BlocksWritten, Is.EqualTo(10));
        Assert.That(sa.PhysicalBlocks + sb.PhysicalBlocks, Is.EqualTo((double)v.GetStatistics().DataBlocksUsed).Within(0.001));
        Assert.That(sa.SavingPercent, Is.GreaterThan(90));
    }

    [Test]
    [CancelAfter(60_000)]
    public void StaleRawBlocksDoNotShowThroughANewImage()
    {
        using var v = Volume.Format(NewDevice(), TestPools.Small(Logical), Options);
        v.Write(3, Block(3)); // raw LBN use before any image existed
        var img = v.CreateImage("img", 10 * 4096);
        Assert.That(img.FirstLbn, Is.Zero);
        var buffer = new byte[4096];
        v.Read(3, buffer);
        Assert.That(buffer, Is.All.Zero);
    }

    [Test]
    [CancelAfter(120_000)]
    public void CreateAndRemoveAreDurableWhenTheyReturn([Values(false, true)] bool keepAndTear)
    {
        for (var seed = 0; seed < (keepAndTear ? 20 : 1); seed++)
        {
            var device = new CrashSimulatingDevice(TestPools.DeviceBlocks(4, Logical));
            var v = Volume.Format(device, TestPools.Small(Logical), Options);
            v.CreateImage("first", 8192);
            v.CreateImage("second", 4096 * 900);
            v.Write(v.FindImage("second")!.FirstLbn, Block(5));
            v.RemoveImage("first");
            // Crash without closing: keep none of the unflushed writes, or all of them, some torn.
            var image = device.Crash(new Random(seed), tear: keepAndTear, keep: keepAndTear ? 1 : 0, tearProbability: 0.5);
            using var reopened = Volume.Open(image, Options);
            Assert.That(reopened.Images.Select(i => i.Name), Is.EqualTo(new[] { "second" }), $"seed {seed}");
            Assert.That(reopened.Check(), Is.Empty);
        }
    }

    [Test]
    [CancelAfter(60_000)]
    public void ADamagedCatalogBlockFailsTheOpenNamingIt()
    {
        var device = NewDevice();
        Geometry g;
        using (var v = Volume.Format(device, TestPools.Small(Logical), Options))
        {
            v.CreateImage("x", 4096);
            g = v.Geometry;
        }
        var block = new byte[4096];
        device.Read(g.CatalogStart + 1, block);
        block[100] ^= 1;
        device.Write(g.CatalogStart + 1, block);
        var e = Assert.Throws<CorruptMetadataException>(() => Volume.Open(device, Options));
        Assert.That(e!.Message, Does.Contain("image catalog block 1"));
    }

    [Test]
    [CancelAfter(60_000)]
    public void AnImpossibleRecordFailsTheOpenNamingIt()
    {
        var device = NewDevice();
        Geometry g;
        using (var v = Volume.Format(device, TestPools.Small(Logical), Options))
        {
            v.CreateImage("x", 4096);
            g = v.Geometry;
        }
        // A sealed, well-formed block whose record points past the logical space.
        var block = new byte[4096];
        device.Read(g.CatalogStart, block);
        BitConverter.TryWriteBytes(block.AsSpan(MetadataBlock.HeaderSize + 68), Logical * 10);
        MetadataBlock.Seal(block, MetadataKind.Catalog, g.Nonce, 0);
        device.Write(g.CatalogStart, block);
        var e = Assert.Throws<CorruptMetadataException>(() => Volume.Open(device, Options));
        Assert.That(e!.Message, Does.Contain("image catalog block 0").And.Contain("'x'"));
    }
}
