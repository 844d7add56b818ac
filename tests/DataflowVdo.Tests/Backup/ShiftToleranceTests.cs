using DataflowVdo.Config;
using DataflowVdo.Pipeline.Backup;
using DataflowVdo.Storage;

namespace DataflowVdo.Tests.Backup;

/// <summary>
/// Why <c>cdc</c> exists: the second generation of a tar-like stream, with bytes inserted and
/// deleted in a tenth of its members, dedupes against the first far better cut at content-defined
/// points than in fixed 4 KiB blocks, where every edit shifts all later blocks.
/// </summary>
public sealed class ShiftToleranceTests
{
    private static long SecondGenerationStoredBlocks(BackupAlignment alignment)
    {
        using var volume = BackupRoundTripTests.NewVolume(SchemeKind.Inline, slabs: 16);
        var settings = BackupRoundTripTests.Settings(alignment);
        BackupIngest.Run(volume, "gen1", new MemoryStream(BackupStreams.TarLike(120, 1, 77)), null, settings);
        var second = BackupIngest.Run(volume, "gen2", new MemoryStream(BackupStreams.TarLike(120, 2, 77)), null, settings);
        TestContext.Out.WriteLine($"{alignment}: generation 2 of {second.Manifest.StreamLength} bytes stored {second.Manifest.StoredBlocks} blocks ({second.Manifest.SavingPercent:0.0}% saved)");
        return second.Manifest.StoredBlocks;
    }

    [Test]
    [CancelAfter(60_000)]
    public void ASecondGenerationWithInsertionsDedupesFarBetterWithCdcThanFixed()
    {
        var cdc = SecondGenerationStoredBlocks(BackupAlignment.Cdc);
        var fixedBlocks = SecondGenerationStoredBlocks(BackupAlignment.Fixed);
        // Random member data: fixed stores nearly everything after the first edit again; cdc
        // only the chunks around the edits (about a tenth of the members).
        Assert.That(cdc * 4, Is.LessThan(fixedBlocks), $"cdc stored {cdc} blocks, fixed {fixedBlocks}");
    }
}
