namespace DataflowVdo.Config;

/// <summary>When a write is acknowledged.</summary>
public enum WritePolicy
{
    /// <summary>After allocation; durable at the next flush (VDO's default for devices with a volatile cache).</summary>
    Async,
    /// <summary>After its journal entry is durable: every acknowledged write survives a crash.</summary>
    Sync,
}
