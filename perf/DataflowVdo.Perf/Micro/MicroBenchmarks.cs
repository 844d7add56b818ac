using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace DataflowVdo.Perf.Micro;

/// <summary>The <c>bdn</c> mode: hands the arguments to BenchmarkDotNet's switcher.</summary>
internal static class MicroBenchmarks
{
    public static int Run(string[] args)
    {
        // Reports go under bin/ (ignored by git) instead of the current directory, which is
        // usually the repository root; --artifacts DIR still overrides.
        var config = DefaultConfig.Instance.WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"));
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(MicroBenchmarks).Assembly).Run(args, config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
