using DataflowVdo.Config;
using DataflowVdo.Pipeline.Backup;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Backup;

/// <summary>
/// Why <c>cdc</c> exists: the second generation of a tar-like stream, with bytes inserted and
/// deleted in a tenth of its members, dedupes against the first far better cut at content-defined
/// points than in fixed 4 KiB blocks, where every edit shifts all later blocks. And why
/// <c>hybrid</c> exists: it keeps that margin, and also catches what only <c>fixed</c> caught,
/// copies of 4 KiB-aligned blocks (a block-level stream) that content-defined chunks cut through.
/// </summary>
public sealed class ShiftToleranceTests
{
    private static long SecondGenerationStoredBlocks(BackupAlignment alignment)
    {
        using var volume = BackupRoundTripTests.NewVolume(new SchemeCase(SchemeKind.Inline), slabs: 16);
        var settings = BackupRoundTripTests.Settings(alignment);
        BackupIngest.Run(volume, "gen1", new MemoryStream(BackupStreams.TarLike(120, 1, 77)), null, settings);
        var second = BackupIngest.Run(volume, "gen2", new MemoryStream(BackupStreams.TarLike(120, 2, 77)), null, settings);
        TestContext.Out.WriteLine($"{alignment}: generation 2 of {second.Manifest.StreamLength} bytes stored {second.Manifest.StoredBlocks} blocks ({second.Manifest.SavingPercent:0.0}% saved)");
        return second.Manifest.StoredBlocks;
    }

    private static long AlignedCopiesStoredBlocks(BackupAlignment alignment)
    {
        using var volume = BackupRoundTripTests.NewVolume(new SchemeCase(SchemeKind.Inline), slabs: 16);
        var data = BackupStreams.AlignedCopies(2048, 0.3, 78);
        var result = BackupIngest.Run(volume, "blocks", new MemoryStream(data), null, BackupRoundTripTests.Settings(alignment));
        var restored = new MemoryStream();
        BackupRestore.Run(volume, "blocks", restored);
        Assert.That(restored.ToArray().AsSpan().SequenceEqual(data), Is.True, $"{alignment}: restored bytes differ");
        TestContext.Out.WriteLine($"{alignment}: {data.Length / 4096} blocks with 30% aligned copies stored {result.Manifest.StoredBlocks} blocks");
        return result.Manifest.StoredBlocks;
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

    [Test]
    [CancelAfter(60_000)]
    public void HybridKeepsTheShiftToleranceMarginAndCatchesAlignedCopies()
    {
        var hybrid = SecondGenerationStoredBlocks(BackupAlignment.Hybrid);
        var fixedBlocks = SecondGenerationStoredBlocks(BackupAlignment.Fixed);
        Assert.That(hybrid * 4, Is.LessThan(fixedBlocks), $"hybrid stored {hybrid} blocks, fixed {fixedBlocks}");

        // 2048 random blocks, 30% of them copies of earlier ones at 4 KiB offsets: fixed stores
        // ~1434; cdc's chunks straddle the copies and store ~2048; hybrid must do as fixed.
        var alignedHybrid = AlignedCopiesStoredBlocks(BackupAlignment.Hybrid);
        var alignedFixed = AlignedCopiesStoredBlocks(BackupAlignment.Fixed);
        var alignedCdc = AlignedCopiesStoredBlocks(BackupAlignment.Cdc);
        Assert.That(alignedHybrid, Is.LessThanOrEqualTo(alignedFixed * 1.08), $"hybrid stored {alignedHybrid} blocks, fixed {alignedFixed}");
        Assert.That(alignedHybrid, Is.LessThan(alignedCdc * 0.85), $"hybrid stored {alignedHybrid} blocks, cdc {alignedCdc}");
    }
}
