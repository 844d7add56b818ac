namespace DataflowVdo.Blocks;

/// <summary>Told when a request is acknowledged (done, or safely in the pipeline) or failed.</summary>
public interface IVioCompletion
{
    /// <summary>The request <paramref name="vio"/> is acknowledged; <paramref name="error"/> when it failed.</summary>
    void Acknowledge(DataVio vio, Exception? error);
}
