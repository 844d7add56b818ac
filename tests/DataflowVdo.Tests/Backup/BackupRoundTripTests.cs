using System.Security.Cryptography;
using DataflowVdo.Blocks.Chunking;
using DataflowVdo.Fuse;
using DataflowVdo.Pipeline;
using DataflowVdo.Pipeline.Backup;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Backup;

/// <summary>
/// Ingest then restore gives back the stream byte for byte (and its SHA-256), in every scheme and
/// both alignments; the FUSE view of the image reads the same bytes at any offset.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class BackupRoundTripTests(SchemeCase scheme)
{
    internal static readonly ChunkerParameters SmallChunks = new() { MinBytes = 2048, AverageBytes = 8192, MaxBytes = 32768 };

    private static long Logical => 812L * 64;

    internal static Volume NewVolume(SchemeCase scheme, int slabs = 8) =>
        Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks(TestPools.Small(Logical), slabs)), TestPools.Small(Logical), TestPools.Options(scheme));

    internal static IngestSettings Settings(BackupAlignment alignment) => new() { Alignment = alignment, Chunker = SmallChunks, Writers = 4, RequestBlocks = 64 };

    public static IEnumerable<TestCaseData> Streams()
    {
        foreach (var alignment in new[] { BackupAlignment.Fixed, BackupAlignment.Cdc, BackupAlignment.Hybrid })
        {
            yield return new TestCaseData(alignment, "random", 1_000_003).SetArgDisplayNames(alignment.ToString(), "random", "1000003");
            yield return new TestCaseData(alignment, "compressible", 700_000).SetArgDisplayNames(alignment.ToString(), "compressible", "700000");
            yield return new TestCaseData(alignment, "duplicates", 819_200).SetArgDisplayNames(alignment.ToString(), "duplicates", "819200");
            yield return new TestCaseData(alignment, "random", 0).SetArgDisplayNames(alignment.ToString(), "empty", "0");
            yield return new TestCaseData(alignment, "random", 1).SetArgDisplayNames(alignment.ToString(), "random", "1");
            yield return new TestCaseData(alignment, "random", 4096).SetArgDisplayNames(alignment.ToString(), "random", "4096");
        }
    }

    private static byte[] Make(string kind, int length) => kind switch
    {
        "compressible" => BackupStreams.Compressible(length, 11),
        "duplicates" => BackupStreams.DuplicateHeavy(length, 12),
        _ => BackupStreams.Random(length, 13),
    };

    [TestCaseSource(nameof(Streams))]
    [CancelAfter(60_000)]
    public void RestoreAndTheFuseViewGiveBackTheStreamExactly(BackupAlignment alignment, string kind, int length)
    {
        var data = Make(kind, length);
        using var volume = NewVolume(scheme);
        var result = BackupIngest.Run(volume, "nightly", new MemoryStream(data), length % 2 == 0 ? length : null, Settings(alignment));
        Assert.That(result.Manifest.StreamLength, Is.EqualTo(length));
        Assert.That(result.Manifest.Sha256, Is.EqualTo(SHA256.HashData(data)));
        Assert.That(volume.FindImage("nightly")!.Kind, Is.EqualTo(ImageKind.Backup));

        var restored = new MemoryStream();
        var (bytes, _) = BackupRestore.Run(volume, "nightly", restored, readers: 3);
        Assert.That(bytes, Is.EqualTo(length));
        Assert.That(restored.ToArray().AsSpan().SequenceEqual(data), Is.True, "restored bytes differ");

        var file = new BackupImageFile(volume, volume.FindImage("nightly")!, volume.ReadBackupManifest(volume.FindImage("nightly")!));
        Assert.That(file.Size, Is.EqualTo(length));
        Assert.That(file.ReadOnly, Is.True);
        var random = new Random(length);
        for (var i = 0; i < 40 && length > 0; i++)
        {
            var offset = random.NextInt64(length);
            var buffer = new byte[random.Next(1, 70_000)];
            var n = file.Read(offset, buffer);
            Assert.That(n, Is.EqualTo(Math.Min(buffer.Length, length - offset)));
            Assert.That(buffer.AsSpan(0, n).SequenceEqual(data.AsSpan((int)offset, n)), Is.True, $"FUSE view differs at {offset}+{n}");
        }
        Assert.That(volume.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(60_000)]
    public void TheThinLogicalSpaceGrowsRatherThanStopAnIngest([Values] bool lengthKnown)
    {
        // A logical space of two block-map pages (6.5 MB) and a VM image in it; 8 MB of compressible data.
        var format = TestPools.Small(812 * 2);
        using var volume = Volume.Format(new MemoryBlockDevice(TestPools.DeviceBlocks(format, 8)), format, TestPools.Options(scheme));
        volume.CreateImage("vm", 812 * 4096);
        var data = BackupStreams.Compressible(8_000_000, 5);
        BackupIngest.Run(volume, "big", new MemoryStream(data), lengthKnown ? data.Length : null, Settings(BackupAlignment.Cdc));
        Assert.That(volume.LogicalBlocks, Is.GreaterThan(812 * 2));
        var restored = new MemoryStream();
        BackupRestore.Run(volume, "big", restored);
        Assert.That(restored.ToArray().AsSpan().SequenceEqual(data), Is.True);
        // The space reserved for the stream was given back: another image fits after it.
        BackupIngest.Run(volume, "again", new MemoryStream(data), data.Length, Settings(BackupAlignment.Fixed));
        Assert.That(volume.Check(), Is.Empty);
    }

    [Test]
    [CancelAfter(60_000)]
    public void AnIngestedBackupSurvivesACleanReopenAndItsRemovalReturnsTheSpace()
    {
        var data = BackupStreams.Random(600_000, 3);
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(TestPools.Small(Logical), 8));
        long before;
        using (var volume = Volume.Format(device, TestPools.Small(Logical), TestPools.Options(scheme)))
        {
            before = volume.GetStatistics().DataBlocksUsed;
            BackupIngest.Run(volume, "b", new MemoryStream(data), null, Settings(BackupAlignment.Cdc));
        }
        using (var volume = Volume.Open(device, TestPools.Options(scheme)))
        {
            var restored = new MemoryStream();
            BackupRestore.Run(volume, "b", restored);
            Assert.That(restored.ToArray(), Is.EqualTo(data));
            volume.RemoveImage("b");
            Assert.That(volume.GetStatistics().DataBlocksUsed, Is.EqualTo(before));
            Assert.That(volume.Check(), Is.Empty);
        }
    }
}
