using DataflowVdo.Blocks;
using DataflowVdo.Blocks.Stages;
using Zone = DataflowVdo.Blocks.Stages.ZoneKind;

namespace DataflowVdo.Pipeline;

/// <summary>
/// The lock drivers' batched variant (<c>Pipeline:LockBatch</c>; Inline always, a window of 256
/// blocks): a caller's requests run together on its thread, a zone's lock taken once for every
/// request whose stage belongs to it, the data writes and verify reads of runs of consecutive
/// blocks as vectored I/O.
/// </summary>
internal sealed partial class ZonedScheduler
{
    private partial class LockingDriver
    {
        /// <summary>
        /// Runs a caller's requests together on this thread. Each round takes the slot of the first
        /// request still in the batch; for a zone it takes the zone's lock once and runs, in request
        /// order, every request whose stage belongs to it (each as many stages as stay there); for a
        /// worker step it runs each such request's step. A request that parks (a lock's waiter list,
        /// the packer, the journal) or completes leaves the batch at once: another thread may own it
        /// from then on.
        /// </summary>
        public override void StartBatch(List<DataVio> batch)
        {
            var carrier = EnterCarrier();
            try
            {
                RunBatchRounds(batch);
            }
            finally
            {
                ExitCarrier(carrier);
            }
        }

        private void RunBatchRounds(List<DataVio> batch)
        {
            for (var rounds = 0; batch.Count > 0; rounds++)
            {
                RunUrgent();
                if (rounds == _stepsPerRequeue * 2)
                {
                    foreach (var v in batch)
                        S.Send(v); // fairness: the rest go back to the end of the queue, alone
                    batch.Clear();
                    return;
                }
                var slot = S.SlotFor(batch[0]);
                if (S.KindOf(slot) == Zone.DataWrite)
                    slot = SlotBeforeWrites(batch, slot);
                if (!_outside[slot])
                    RunBatchLocked(batch, slot);
                else if (S.KindOf(slot) == Zone.DataWrite)
                    RunBatchWrites(batch, slot);
                else if (S.KindOf(slot) == Zone.Verify)
                    RunBatchVerify(batch, slot);
                else
                    RunBatchPool(batch, slot);
            }
        }

        /// <summary>
        /// The data writes go last in a batch: the slot of the first request not yet at its data
        /// write, or <paramref name="writeSlot"/> when every one is. A batch's blocks are allocated
        /// consecutively, but a compression probe (<see cref="CompressionProbe"/>: one block in 16
        /// while compression is skipped) or a duplicate takes its block on another route first;
        /// written at once, the others went out as runs of 15 blocks around each hole, too short for
        /// the device's direct path (<c>FileBlockDevice.DirectMinBytes</c>), and a 1 MiB sequential
        /// FUSE write spent 42% of the mount's CPU in buffered <c>pwritev</c> (perf/README.md, 7 Dec
        /// 2026). Every request of the batch can run on this thread, so waiting for them delays the
        /// data writes by their other steps only (a compression, a packer visit).
        /// </summary>
        private int SlotBeforeWrites(List<DataVio> batch, int writeSlot)
        {
            for (var i = 1; i < batch.Count; i++)
            {
                var slot = S.SlotFor(batch[i]);
                if (slot != writeSlot)
                    return slot;
            }
            return writeSlot;
        }

        private void RunBatchPool(List<DataVio> batch, int slot)
        {
            var start = BusyStart();
            var kept = 0;
            var ran = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                var vio = batch[i];
                if (S.SlotFor(vio) == slot)
                {
                    ran++;
                    if (S.Advance(vio, slot, out _) is Stage.Parked or Stage.Done)
                        continue; // no longer ours
                }
                batch[kept++] = vio;
            }
            batch.RemoveRange(kept, batch.Count - kept);
            Interlocked.Add(ref S._messages[slot], ran);
            AddBusy(slot, start, shared: true);
        }

        /// <summary>Moves the batch's requests at <paramref name="slot"/> into <paramref name="taken"/>, in order.</summary>
        private void TakeAt(List<DataVio> batch, int slot, List<DataVio> taken)
        {
            var kept = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                if (S.SlotFor(batch[i]) == slot)
                    taken.Add(batch[i]);
                else
                    batch[kept++] = batch[i];
            }
            batch.RemoveRange(kept, batch.Count - kept);
        }

        /// <summary>
        /// The batch's data writes (<see cref="Stage.WriteData"/>): runs of consecutive blocks go out
        /// as one vectored write, and a batch of at least <see cref="WriteAroundMinBlocks"/> writes
        /// around the device's cache (a large request: through the cache's single writer thread
        /// 1 MiB writes fell to 0.56x, perf/README.md). Each request then goes on as after
        /// its own <see cref="Stage.WriteData"/> step.
        /// </summary>
        private void RunBatchWrites(List<DataVio> batch, int slot)
        {
            var start = BusyStart();
            var writing = t_taken ??= new List<DataVio>(Window);
            var sources = t_sources ??= new List<ReadOnlyMemory<byte>>(Window);
            TakeAt(batch, slot, writing);
            var count = writing.Count;
            var around = count >= WriteAroundMinBlocks;
            try
            {
                for (var i = 0; i < writing.Count;)
                {
                    var from = i;
                    var first = writing[i].Allocation;
                    sources.Clear();
                    do
                        sources.Add(writing[i].Data);
                    while (++i < writing.Count && writing[i].Allocation == first + sources.Count);
                    Exception? error = null;
                    try
                    {
                        if (S._failure is null)
                        {
                            if (around)
                                WriteAroundOutsideRunner(first, sources);
                            else if (sources.Count == 1)
                                S._z.Device.Write(first, writing[from].Data);
                            else
                                S._z.Device.Write(first, sources);
                        }
                    }
                    catch (Exception e)
                    {
                        error = e;
                    }
                    for (var j = from; j < i; j++)
                    {
                        var vio = writing[j];
                        if (S.AdvanceWritten(vio, slot, error) is not (Stage.Parked or Stage.Done))
                            batch.Add(vio);
                    }
                }
            }
            finally
            {
                sources.Clear();
                writing.Clear();
            }
            Interlocked.Add(ref S._messages[slot], count);
            AddBusy(slot, start, shared: true);
        }

        /// <summary>
        /// A large request's run goes to the device without a runner's slot (<c>Pipeline:Runners</c>):
        /// on a pool file it is a direct write that waits for the disk (0.2-0.6 ms per 256 KiB
        /// window here), no zone lock is held, and a slot kept through that wait left a core idle
        /// (1 MiB sequential FUSE writes at 123% of the 2 cores' 200%, 482 MB/s; perf/README.md).
        /// </summary>
        private void WriteAroundOutsideRunner(long first, List<ReadOnlyMemory<byte>> sources)
        {
            var left = LeaveRunner();
            try
            {
                S._z.Device.WriteAround(first, sources);
            }
            finally
            {
                if (left)
                    ReturnRunner();
            }
        }

        /// <summary>
        /// The batch's verify reads (<see cref="Stage.Verify"/>): runs of consecutive candidates, as a
        /// rewrite of data already in the pool finds them, are read in one vectored read; each request
        /// then goes on as after its own step.
        /// </summary>
        private void RunBatchVerify(List<DataVio> batch, int slot)
        {
            var start = BusyStart();
            var verifying = t_taken ??= new List<DataVio>(Window);
            TakeAt(batch, slot, verifying);
            var count = verifying.Count;
            Exception? error = null;
            try
            {
                if (S._failure is null)
                    S._z.Verify.ReadCandidates(verifying, t_reads ??= new List<Memory<byte>>(Window));
            }
            catch (Exception e)
            {
                error = e;
            }
            try
            {
                foreach (var vio in verifying)
                {
                    if (S.AdvanceWritten(vio, slot, error) is not (Stage.Parked or Stage.Done))
                        batch.Add(vio);
                }
            }
            finally
            {
                verifying.Clear();
            }
            Interlocked.Add(ref S._messages[slot], count);
            AddBusy(slot, start, shared: true);
        }

        [ThreadStatic]
        private static List<Memory<byte>>? t_reads;

        [ThreadStatic]
        private static List<DataVio>? t_taken;

        [ThreadStatic]
        private static List<ReadOnlyMemory<byte>>? t_sources;

        /// <summary>
        /// Takes the lock of <paramref name="slot"/> once and runs, in request order, every request of
        /// the batch whose stage belongs to a zone of that lock, each as many stages as stay there.
        /// </summary>
        private void RunBatchLocked(List<DataVio> batch, int slot)
        {
            var gate = _lockOf[slot];
            var start = EnterZone(slot, S.KindOf(slot));
            var kept = 0;
            var appended = 0;
            var journal = false;
            var packer = false;
            try
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    var vio = batch[i];
                    var gone = false;
                    for (var steps = 0; steps < _stepsPerRequeue; steps++)
                    {
                        var here = S.SlotFor(vio);
                        if (_outside[here] || _lockOf[here] != gate)
                            break;
                        var zone = S.KindOf(here);
                        BeforeZoneStep(here, zone);
                        var next = S.Advance(vio, here, out _);
                        journal |= zone == Zone.Journal;
                        packer |= zone == Zone.Packer;
                        if (next is Stage.Parked or Stage.Done)
                        {
                            gone = true; // no longer ours
                            break;
                        }
                        if (zone == Zone.Journal && next == Stage.Update && IsUnapplied(vio) && S._z.Hooks.AfterJournalAppend is not null)
                        {
                            AppendedInBatch[appended++] = vio;
                            break; // the hook runs between its append and its block-map update
                        }
                    }
                    if (!gone)
                        batch[kept++] = vio;
                }
                batch.RemoveRange(kept, batch.Count - kept);
                if (journal)
                    AfterZoneStep(Zone.Journal);
                if (packer)
                    AfterZoneStep(Zone.Packer);
            }
            finally
            {
                ExitZone(slot, start);
            }
            for (var i = 0; i < appended; i++)
            {
                S._z.Hooks.AfterJournalAppend!.Invoke(AppendedInBatch[i].Lbn); // as RunLocking: outside the journal's lock
                AppendedInBatch[i] = null!;
            }
        }

        [ThreadStatic]
        private static DataVio[]? t_appended;

        private static DataVio[] AppendedInBatch => t_appended ??= new DataVio[MaxWindow];
    }

    /// <summary>Blocks written in one batch from which the batch writes around the device's cache (128 KiB).</summary>
    internal const int WriteAroundMinBlocks = 32;
}
