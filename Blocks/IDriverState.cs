namespace DataflowVdo.Blocks;

/// <summary>
/// What a scheme's driver keeps with a request (<see cref="DataVio.DriverState"/>): opaque to the
/// steps, made once per pooled request by the driver that needs it, kept across reuse.
/// </summary>
public interface IDriverState
{
    /// <summary>Clears the per-request part when the request is reused.</summary>
    void Reset();
}
