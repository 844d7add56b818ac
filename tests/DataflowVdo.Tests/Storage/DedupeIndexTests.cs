using CsCheck;
using DataflowVdo.Storage;

namespace DataflowVdo.Tests.Storage;

/// <summary>
/// The dedupe index's record table against a dictionary model, with names crowded into a few
/// slots (long probe runs that wrap around the table's end, removals from their middle), and the
/// index's chapters: hints expire oldest first, a refreshed name survives its old chapter.
/// </summary>
public sealed class DedupeIndexTests
{
    public enum OpKind { Set, Remove, RemoveChapter, Get }

    public sealed record Op(OpKind Kind, int Name, int Value);

    // A record's home slot comes from the name's low half: these names have five homes, at
    // 12/16, 13/16, 14/16 and 15/16 of the table and at its last slot, so their probe runs are
    // long, run into each other and wrap around the table's end to slot 0.
    private static UInt128 NameOf(int n) => new((ulong)n + 1, n % 5 == 4 ? ulong.MaxValue - (uint)n : (0xCUL + (uint)(n % 5)) << 60);

    private static readonly Gen<Op> GenOp = Gen.Select(Gen.Int[0, 99], Gen.Int[0, 39], Gen.Int[1, 6], (k, name, value) => new Op(
        k switch { < 45 => OpKind.Set, < 65 => OpKind.Remove, < 75 => OpKind.RemoveChapter, _ => OpKind.Get }, name, value));

    [Test]
    public void TheRecordTableMatchesADictionaryModel()
    {
        GenOp.Array[1, 300].Sample(ops =>
        {
            var table = new IndexRecordTable(40);
            var model = new Dictionary<UInt128, (BlockMapping Mapping, long Chapter)>();
            foreach (var op in ops)
            {
                var name = NameOf(op.Name);
                var mapping = new BlockMapping(1000 + op.Value, MappingState.Uncompressed);
                switch (op.Kind)
                {
                    case OpKind.Set:
                        table.Set(name, mapping, op.Value);
                        model[name] = (mapping, op.Value);
                        break;
                    case OpKind.Remove:
                        var removed = table.RemoveIf(name, mapping, 0);
                        var expected = model.TryGetValue(name, out var r) && r.Mapping == mapping;
                        if (removed != expected)
                            throw new InvalidOperationException($"RemoveIf({op.Name}, mapping {op.Value}) returned {removed}, model says {expected}");
                        if (expected)
                            model.Remove(name);
                        break;
                    case OpKind.RemoveChapter:
                        var removedByChapter = table.RemoveIf(name, null, op.Value);
                        var expectedByChapter = model.TryGetValue(name, out var c) && c.Chapter == op.Value;
                        if (removedByChapter != expectedByChapter)
                            throw new InvalidOperationException($"RemoveIf({op.Name}, chapter {op.Value}) returned {removedByChapter}, model says {expectedByChapter}");
                        if (expectedByChapter)
                            model.Remove(name);
                        break;
                }
                // After every operation, every name is found exactly as the model has it.
                for (var n = 0; n < 40; n++)
                {
                    var key = NameOf(n);
                    var found = table.TryGet(key, out var m, out var ch);
                    var has = model.TryGetValue(key, out var want);
                    if (found != has || (has && (m != want.Mapping || ch != want.Chapter)))
                        throw new InvalidOperationException($"after {op}: name {n} found={found} ({m}, {ch}), model has={has} ({want.Mapping}, {want.Chapter})");
                }
                if (table.Count != model.Count || table.Records().Count() != model.Count)
                    throw new InvalidOperationException($"after {op}: table holds {table.Count} records ({table.Records().Count()} listed), model {model.Count}");
            }
        }, iter: 400);
    }

    [Test]
    public void AFullTableRefusesAnotherNameInsteadOfLosingOne()
    {
        var table = new IndexRecordTable(16);
        for (var n = 0; n < table.Capacity; n++)
            table.Set(NameOf(n), new BlockMapping(n + 1, MappingState.Uncompressed), 0);
        Assert.Throws<InvalidOperationException>(() => table.Set(NameOf(999), new BlockMapping(7, MappingState.Uncompressed), 0));
        table.Set(NameOf(3), new BlockMapping(77, MappingState.Uncompressed), 1); // an update still fits
        Assert.That(table.TryGet(NameOf(3), out var m, out var chapter), Is.True);
        Assert.That((m.Pbn, chapter), Is.EqualTo((77L, 1L)));
        Assert.That(table.Count, Is.EqualTo(table.Capacity));
    }

    [Test]
    public void HintsExpireOldestChapterFirstAndARefreshedNameSurvivesItsOldChapter()
    {
        // 4 chapters of 16 records. Names 0-47 fill chapters 0-2; name 5 is refreshed into
        // chapter 3 with names 48-62; name 63 opens chapter 4, which expires chapter 0.
        var index = new DedupeIndex(64, 4);
        for (var n = 0; n < 48; n++)
            index.Put(NameOf(1000 + n), new BlockMapping(n + 1, MappingState.Uncompressed));
        index.Put(NameOf(1000 + 5), new BlockMapping(500, MappingState.Uncompressed));
        for (var n = 48; n < 64; n++)
            index.Put(NameOf(1000 + n), new BlockMapping(n + 1, MappingState.Uncompressed));
        Assert.Multiple(() =>
        {
            Assert.That(index.TryGet(NameOf(1000 + 0), out _), Is.False, "chapter 0 expired");
            Assert.That(index.TryGet(NameOf(1000 + 15), out _), Is.False, "chapter 0 expired");
            Assert.That(index.TryGet(NameOf(1000 + 5), out var refreshed), Is.True, "a name refreshed later lives in its newer chapter");
            Assert.That(refreshed.Pbn, Is.EqualTo(500));
            Assert.That(index.TryGet(NameOf(1000 + 16), out _), Is.True, "chapter 1 is still held");
            Assert.That(index.TryGet(NameOf(1000 + 63), out var newest), Is.True);
            Assert.That(newest.Pbn, Is.EqualTo(64));
            Assert.That(index.Count, Is.EqualTo(64 - 15));
        });
        index.Forget(NameOf(1000 + 63), new BlockMapping(1, MappingState.Uncompressed));
        Assert.That(index.TryGet(NameOf(1000 + 63), out _), Is.True, "a stale hint is forgotten only if it still points where it failed");
        index.Forget(NameOf(1000 + 63), new BlockMapping(64, MappingState.Uncompressed));
        Assert.That(index.TryGet(NameOf(1000 + 63), out _), Is.False);
    }
}
