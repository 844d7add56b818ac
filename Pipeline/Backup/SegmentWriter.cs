using System.Collections.Concurrent;
using System.Threading.Tasks.Dataflow;
using DataflowVdo.Storage;

namespace DataflowVdo.Pipeline.Backup;

/// <summary>
/// Writes the segments an ingest lays out (runs of whole blocks at an offset of its image)
/// through the volume, <see cref="IngestSettings.Writers"/> requests at a time: a bounded
/// Dataflow block whose back-pressure stops the reader, so memory stays at about
/// <c>2 × Writers</c> segments whatever the stream's size. The first write error faults the
/// block; the next <see cref="Send"/> or <see cref="Complete"/> rethrows it.
/// </summary>
internal sealed class SegmentWriter
{
    private readonly Volume _volume;
    private readonly ImageEntry _image;
    private readonly IngestProgress _progress;
    private readonly long _storedBefore;
    private readonly StreamHasher _hasher;
    private readonly ActionBlock<Segment> _block;
    private readonly ConcurrentBag<byte[]> _free = [];
    private long _lastFigures;

    public SegmentWriter(Volume volume, ImageEntry image, int segmentBlocks, int writers, IngestProgress progress, long storedBefore, StreamHasher hasher)
    {
        _hasher = hasher;
        _volume = volume;
        _image = image;
        _progress = progress;
        _storedBefore = storedBefore;
        SegmentBlocks = segmentBlocks;
        _block = new ActionBlock<Segment>(Write, new ExecutionDataflowBlockOptions
        {
            MaxDegreeOfParallelism = writers,
            BoundedCapacity = writers * 2,
            SingleProducerConstrained = true,
        });
    }

    /// <summary>Capacity of a segment buffer in blocks.</summary>
    public int SegmentBlocks { get; }

    /// <summary>A segment buffer (reused once written).</summary>
    public byte[] Rent() => _free.TryTake(out var buffer) ? buffer : new byte[SegmentBlocks * VdoConstants.BlockSize];

    /// <summary>
    /// Queues <paramref name="blocks"/> blocks of <paramref name="buffer"/> for image block <paramref name="offset"/>;
    /// waits while the queue is full. The buffer is reused only once written and, when the stream's
    /// bytes were read into it, once <paramref name="hashTicket"/> is hashed (0: nothing to wait for).
    /// </summary>
    public void Send(byte[] buffer, long offset, int blocks, long hashTicket = 0)
    {
        if (offset + blocks + 1 > _image.ExtentBlocks)
            throw new VdoException($"backup '{_image.Name}' does not fit the logical space reserved for it ({_image.ExtentBlocks} blocks): the stream grew while it was read, or it needs more than the logical space can grow to");
        if (!_block.SendAsync(new Segment(buffer, offset, blocks, hashTicket)).GetAwaiter().GetResult())
            Complete(); // the block faulted: rethrow its error
    }

    /// <summary>Waits for every queued segment; throws the first write error.</summary>
    public void Complete()
    {
        _block.Complete();
        try
        {
            _block.Completion.GetAwaiter().GetResult();
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
    }

    /// <summary>Stops accepting segments and waits for those in flight, ignoring their errors (the ingest is failing anyway).</summary>
    public void Abandon()
    {
        _block.Complete();
        try
        {
            _block.Completion.Wait();
        }
        catch (AggregateException)
        {
        }
    }

    private void Write(Segment segment)
    {
        _volume.WriteBlocks(_image.FirstLbn + segment.Offset, segment.Buffer.AsSpan(0, segment.Blocks * VdoConstants.BlockSize));
        _progress.AddWritten(segment.Blocks);
        _hasher.WaitFor(segment.HashTicket);
        _free.Add(segment.Buffer);
        // Savings so far for the progress display, a few times a second (the figure takes the volume's lock).
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastFigures);
        if (now - last >= 250 && Interlocked.CompareExchange(ref _lastFigures, now, last) == last)
            _progress.SetStored(Math.Max(0, _volume.DataBlocksUsedNow() - _storedBefore));
    }

    private readonly record struct Segment(byte[] Buffer, long Offset, int Blocks, long HashTicket);
}
