using DataflowVdo.Fuse.Native;

namespace DataflowVdo.Fuse.Tests;

public sealed class NativeLayoutTests
{
    [Test]
    public void StartupVerificationPasses()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("Native layouts are Linux x86_64 only.");
        }

        FuseTestEnvironment.RequireLibFuse();
        Assert.DoesNotThrow(NativeLayout.Verify);
    }

    [Test]
    public void ManagedDeclarationsMatchTheExpectedTable()
    {
        var measured = NativeLayout.Measure();
        Assert.That(measured, Is.EquivalentTo(NativeLayout.Expected));
    }

    /// <summary>Recompiles the C probe against this machine's headers: the real source of truth.</summary>
    [Test]
    [CancelAfter(60_000)]
    public void ManagedDeclarationsMatchTheCompiledCProbe(CancellationToken cancellationToken)
    {
        string source = Path.Combine(TestContext.CurrentContext.TestDirectory, "Native", "layout_probe.c");
        if (!File.Exists("/usr/include/fuse3/fuse_lowlevel.h"))
        {
            Assert.Ignore(FuseTestEnvironment.SkipReason("the fuse3 headers are not installed (apt-get install libfuse3-dev)"));
        }

        string binary = Path.Combine(Path.GetTempPath(), $"dvdo-layout-probe-{Environment.ProcessId}");
        (int ExitCode, string Output, string Error) compile;
        try
        {
            compile = FuseTestEnvironment.Run("gcc", ["-Wall", "-I/usr/include/fuse3", source, "-o", binary], TimeSpan.FromSeconds(50));
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Ignore(FuseTestEnvironment.SkipReason("gcc is not installed (apt-get install gcc)"));
            return;
        }

        Assert.That(compile.ExitCode, Is.Zero, compile.Error);
        try
        {
            var run = FuseTestEnvironment.Run(binary, [], TimeSpan.FromSeconds(10));
            Assert.That(run.ExitCode, Is.Zero, run.Error);
            var native = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split('='))
                .ToDictionary(parts => parts[0], parts => long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
            Assert.That(NativeLayout.Measure(), Is.EquivalentTo(native));
        }
        finally
        {
            File.Delete(binary);
        }
    }
}
