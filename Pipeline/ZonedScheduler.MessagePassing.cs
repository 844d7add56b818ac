using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using DataflowVdo.Blocks;
using DataflowVdo.Blocks.Stages;
using DataflowVdo.Config;
using Zone = DataflowVdo.Blocks.Stages.ZoneKind;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The MessagePassing driver (VDO's scheme): one <see cref="ActionBlock{T}"/> per zone
/// (parallelism 1) and per worker pool; a request runs its steps while they belong to the block
/// it is in, then is posted to the block of its next stage.
/// </summary>
internal sealed partial class ZonedScheduler
{
    private ActionBlock<object>? Block(StepOptions step, int slot, bool build)
    {
        var options = new ExecutionDataflowBlockOptions
        {
            MaxDegreeOfParallelism = step.Parallelism == 0 ? Environment.ProcessorCount : step.Parallelism,
            BoundedCapacity = step.BoundedCapacity == 0 ? DataflowBlockOptions.Unbounded : step.BoundedCapacity,
            MaxMessagesPerTask = step.BatchSize == 0 ? DataflowBlockOptions.Unbounded : step.BatchSize,
        };
        _parallelism[slot] = options.MaxDegreeOfParallelism;
        _parallel[slot] = options.MaxDegreeOfParallelism > 1;
        return build ? new ActionBlock<object>(message => Run(message, slot), options) : null;
    }

    /// <summary>Runs the request's steps while they belong to the block of <paramref name="slot"/>, then hands it on.</summary>
    private void Run(object message, int slot)
    {
        var start = Stopwatch.GetTimestamp();
        RunMessage(message, slot);
        var busy = Stopwatch.GetTimestamp() - start;
        var i = slot;
        if (_parallel[i])
        {
            Interlocked.Increment(ref _messages[i]);
            Interlocked.Add(ref _busyTicks[i], busy);
        }
        else
        {
            // A zone's figures have one writer (its consumer); readers only need them roughly current.
            Volatile.Write(ref _messages[i], _messages[i] + 1);
            Volatile.Write(ref _busyTicks[i], _busyTicks[i] + busy);
        }
    }

    private void RunMessage(object message, int slot)
    {
        var zone = KindOf(slot);
        if (message is ControlToken token)
            RunToken(token.Kind, zone, _slotIndex[slot]);
        else
            RunSteps((DataVio)message, slot);
        if (zone == Zone.Journal)
        {
            if (_sync)
                AfterJournalMessage();
            // Only now: the request just appended was sent on first, so the checkpoint's tokens
            // reach the logical zone after every request whose entry precedes the checkpoint.
            StartCheckpointIfNeeded(force: false);
        }
        if (_sync && zone == Zone.Packer && _packer!.InputCount == 0)
            CloseBinsWhenIdle(); // Sync writes wait for durability: pack what arrived together, hold nothing
    }

    private void RunSteps(DataVio vio, int slot)
    {
        while (true)
        {
            var next = Advance(vio, slot, out var to);
            if (next is Stage.Parked or Stage.Done)
                break;
            if (to == slot && _blocks[slot]!.InputCount == 0)
            {
                Interlocked.Increment(ref _skipped); // VDO also runs the next step in place when it can
                continue;
            }
            SendTo(vio, to);
            break;
        }
    }

    private static void Post(ActionBlock<object> block, object message)
    {
        // Only worker pools may be bounded (zones are validated unbounded): wait for room there.
        var spin = new SpinWait();
        while (!block.Post(message))
            spin.SpinOnce();
    }
}
