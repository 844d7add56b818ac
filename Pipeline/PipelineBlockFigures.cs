namespace DataflowVdo.Pipeline;

/// <summary>What one Dataflow block of the message-passing graph has done since the volume opened.</summary>
/// <param name="Block">The node id in <c>PipelineGraph</c> (e.g. <c>logical0</c>, <c>compress</c>).</param>
/// <param name="Messages">Messages processed (requests and control tokens).</param>
/// <param name="QueueDepth">Messages waiting in its queue now.</param>
/// <param name="BusySeconds">Time spent processing messages, summed over its parallel workers.</param>
/// <param name="Parallelism">Messages it processes at once.</param>
/// <param name="Contended">StructureLocking: acquisitions of the zone's lock that had to wait (then <paramref name="Messages"/> counts acquisitions).</param>
public sealed record PipelineBlockFigures(string Block, long Messages, int QueueDepth, double BusySeconds, int Parallelism, long Contended = 0);
