using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;

namespace DataflowVdo.Perf;

/// <summary>
/// The machine a figure was measured on, printed with every result so figures from different
/// machines are never compared by accident.
/// </summary>
internal sealed record MachineInfo(int Cores, string Architecture, string Cpu, string Runtime, string Os, string Gc)
{
    public static MachineInfo Current { get; } = Detect();

    public override string ToString() =>
        $"machine: cores={Cores} arch={Architecture} cpu=\"{Cpu}\" runtime=\"{Runtime}\" os=\"{Os}\" gc={Gc}";

    private static MachineInfo Detect() => new(
        Environment.ProcessorCount,
        UnameMachine() ?? RuntimeInformation.OSArchitecture.ToString(),
        CpuModel() ?? "unknown",
        RuntimeInformation.FrameworkDescription,
        RuntimeInformation.OSDescription,
        GCSettings.IsServerGC ? "server" : "workstation");

    private static string? UnameMachine()
    {
        try
        {
            using var uname = Process.Start(new ProcessStartInfo("uname", "-m")
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            });
            if (uname is null)
            {
                return null;
            }

            string output = uname.StandardOutput.ReadToEnd().Trim();
            uname.WaitForExit();
            return output.Length > 0 ? output : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return null;
        }
    }

    private static string? CpuModel()
    {
        const string CpuInfo = "/proc/cpuinfo";
        if (!File.Exists(CpuInfo))
        {
            return null;
        }

        // x86 names the model in "model name"; many ARM kernels only give "Hardware" or "CPU part".
        string[] keys = ["model name", "Hardware", "Processor", "CPU part"];
        var lines = File.ReadAllLines(CpuInfo);
        foreach (string key in keys)
        {
            foreach (string line in lines)
            {
                int colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && line[..colon].Trim() == key)
                {
                    return line[(colon + 1)..].Trim();
                }
            }
        }

        return null;
    }
}
