using CsCheck;
using DataflowVdo.Pipeline;
using DataflowVdo.Storage;
using DataflowVdo.Tests.Infrastructure;

namespace DataflowVdo.Tests.Engine;

/// <summary>
/// Model-based property test: random sequences of write / read / discard / flush / close+reopen
/// over a few hundred LBNs spread over hundreds of block-map pages (so pages are evicted), with
/// duplicate, compressible and zero content, checked against a dictionary. CsCheck shrinks a
/// failing sequence and prints it.
/// </summary>
[TestFixtureSource(typeof(Schemes), nameof(Schemes.All))]
public sealed class VolumeModelTests(SchemeCase scheme)
{
    private const int Lbns = 300;
    private const int Spread = 811; // LBN i lives on block-map page ~i: 300 pages > the cache
    private const long Logical = Lbns * Spread + 1;

    public enum OpKind { Write, Read, Discard, Flush, Reopen }

    public sealed record Op(OpKind Kind, int Lbn, int ContentKind, int ContentId)
    {
        public override string ToString() => Kind switch
        {
            OpKind.Write => $"W{Lbn}:{"zrc"[ContentKind]}{ContentId}",
            OpKind.Read => $"R{Lbn}",
            OpKind.Discard => $"D{Lbn}",
            _ => Kind.ToString(),
        };
    }

    private static readonly Gen<Op> GenOp =
        Gen.Select(Gen.Int[0, 99], Gen.Int[0, Lbns - 1], Gen.Int[0, 2], Gen.Int[0, 30], (k, lbn, ck, id) => new Op(
            k switch { < 55 => OpKind.Write, < 80 => OpKind.Read, < 90 => OpKind.Discard, < 97 => OpKind.Flush, _ => OpKind.Reopen },
            lbn, ck, id));

    [Test]
    public void RandomOperationSequencesMatchADictionaryModel()
    {
        GenOp.Array[1, 400].Sample(Run, iter: 60, threads: 2);
    }

    [Test]
    public void EveryLbnOfALongSequentialWriteReadsBack()
    {
        var ops = Enumerable.Range(0, 1500).Select(i => new Op(OpKind.Write, i % Lbns, i % 3, i % 50)).ToArray();
        Run(ops);
    }

    private void Run(Op[] ops)
    {
        var options = TestPools.Options(scheme);
        var device = new MemoryBlockDevice(TestPools.DeviceBlocks(slabs: 8, logicalBlocks: Logical));
        var model = new Dictionary<long, byte[]>();
        var volume = Volume.Format(device, TestPools.Small(Logical), options);
        var buffer = new byte[VdoConstants.BlockSize];
        try
        {
            foreach (var op in ops)
            {
                var lbn = (long)op.Lbn * Spread;
                switch (op.Kind)
                {
                    case OpKind.Write:
                        var data = Content.Of(op.ContentKind, op.ContentId);
                        volume.Write(lbn, data);
                        model[lbn] = data;
                        break;
                    case OpKind.Read:
                        volume.Read(lbn, buffer);
                        AssertBlock(lbn, model, buffer);
                        break;
                    case OpKind.Discard:
                        volume.Discard(lbn);
                        model.Remove(lbn);
                        break;
                    case OpKind.Flush:
                        volume.Flush();
                        break;
                    case OpKind.Reopen:
                        volume.Dispose();
                        volume = Volume.Open(device, options);
                        break;
                }
            }
            for (var i = 0; i < Lbns; i++)
            {
                volume.Read((long)i * Spread, buffer);
                AssertBlock((long)i * Spread, model, buffer);
            }
            var problems = volume.Check();
            if (problems.Count > 0)
                throw new InvalidOperationException("check found: " + string.Join("; ", problems));
            volume.Dispose();
            volume = Volume.Open(device, options);
            for (var i = 0; i < Lbns; i++)
            {
                volume.Read((long)i * Spread, buffer);
                AssertBlock((long)i * Spread, model, buffer);
            }
        }
        finally
        {
            volume.Dispose();
        }
    }

    private static void AssertBlock(long lbn, Dictionary<long, byte[]> model, byte[] actual)
    {
        var expected = model.TryGetValue(lbn, out var d) ? d : new byte[VdoConstants.BlockSize];
        if (!expected.AsSpan().SequenceEqual(actual))
            throw new InvalidOperationException($"LBN {lbn} read back different data");
    }
}
