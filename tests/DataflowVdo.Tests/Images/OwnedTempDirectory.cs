namespace DataflowVdo.Tests.Images;

/// <summary>
/// Names a test's temp directory after the process that made it (<c>PREFIX{pid}-{guid}</c>), so
/// that cleaning up after an aborted run removes only what dead processes left behind, never the
/// directories and mounts of a test run that is going on beside this one.
/// </summary>
public static class OwnedTempDirectory
{
    /// <summary>A new directory name under <paramref name="prefix"/> owned by this process (not created).</summary>
    public static string NewName(string prefix) => $"{prefix}{Environment.ProcessId}-{Guid.NewGuid():N}";

    /// <summary>
    /// True when <paramref name="path"/> (a directory made by <see cref="NewName"/>, or a path inside
    /// one) belongs to a process that is no longer running, or carries no owner (an older run's name).
    /// </summary>
    public static bool IsAbandoned(string path, string prefix)
    {
        var rest = path[prefix.Length..];
        var dash = rest.IndexOf('-');
        if (dash <= 0 || !int.TryParse(rest.AsSpan(0, dash), out var pid))
            return true;
        return pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}");
    }
}
