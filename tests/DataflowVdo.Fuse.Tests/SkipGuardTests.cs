using System.Xml.Linq;
using static DataflowVdo.Fuse.Tests.FuseTestEnvironment;

namespace DataflowVdo.Fuse.Tests;

/// <summary>
/// On a machine without fuse3/libfuse3 (a newcomer's, with only the .NET SDK) the README's
/// <c>dotnet test</c> must pass: every test that mounts is skipped with a reason that names the
/// package and the install command, none fails.
/// </summary>
public sealed class SkipGuardTests
{
    [Test]
    public void TheGuardSkipsNamingThePackageWhenLibfuse3CannotBeLoaded()
    {
        string? problem = FuseAvailability.Probe("libfuse3-not-installed.so.3", "/dev/fuse", Environment.GetEnvironmentVariable("PATH"));

        var skipped = Assert.Throws<IgnoreException>(() => RequireFuse(problem))!;
        Assert.That(skipped.Message, Does.Contain("libfuse3-not-installed.so.3 cannot be loaded (package libfuse3-3)")
            .And.Contain("apt-get install fuse3 libfuse3-3")
            .And.Contain("bash .ci/run"));
    }

    [Test]
    public void TheGuardNamesFuse3WhenFusermount3IsNotOnPath()
    {
        string empty = Path.Combine(Path.GetTempPath(), $"dvdo-empty-path-{Guid.NewGuid():N}");
        Directory.CreateDirectory(empty);
        try
        {
            string? problem = FuseAvailability.Probe("libfuse3-not-installed.so.3", "/dev/fuse", empty);

            var skipped = Assert.Throws<IgnoreException>(() => RequireFuse(problem))!;
            Assert.That(skipped.Message, Does.Contain("fusermount3 is not on PATH (package fuse3)")
                .And.Contain("(package libfuse3-3)")
                .And.Contain("apt-get install fuse3 libfuse3-3"));
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    /// <summary>
    /// The real thing: this project's mounting tests, run by <c>dotnet test</c> in a child process
    /// whose private mount namespace hides libfuse3 (/dev/null bound over it), are all skipped with
    /// the package named, and none fails. Needs root (unshare -m, mount --bind).
    /// </summary>
    [Test]
    [CancelAfter(120_000)]
    public void MountingTestsAreSkippedNotFailedWhenLibfuse3IsHidden()
    {
        if (Environment.UserName != "root")
            Assert.Ignore("hiding libfuse3 in a private mount namespace needs root (unshare -m, mount --bind)");
        RequireLibFuse();
        RequireProgram("unshare", "util-linux");
        string library = File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
            .First(path => Path.GetFileName(path).StartsWith("libfuse3.so", StringComparison.Ordinal));

        string results = Path.Combine(Path.GetTempPath(), $"dvdo-skip-guard-{Guid.NewGuid():N}");
        string assembly = typeof(SkipGuardTests).Assembly.Location;
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        const string filter = "FullyQualifiedName~MountLifecycleTests|FullyQualifiedName~StartupVerificationPasses";
        try
        {
            var run = Run("unshare", ["-m", "--", "sh", "-c",
                "mount --bind /dev/null \"$1\" && exec \"$2\" test \"$3\" --filter \"$4\" --results-directory \"$5\" --logger 'trx;LogFileName=child.trx'",
                "sh", library, dotnet, assembly, filter, results], TimeSpan.FromSeconds(100));
            Assert.That(run.ExitCode, Is.Zero, $"the child test run failed:\n{run.Output}\n{run.Error}");

            XNamespace ns = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";
            var outcomes = XDocument.Load(Path.Combine(results, "child.trx")).Descendants(ns + "UnitTestResult").ToList();
            Assert.That(outcomes, Has.Count.GreaterThanOrEqualTo(2), "the filter selected the mounting tests");
            Assert.Multiple(() =>
            {
                foreach (var result in outcomes)
                {
                    string name = (string)result.Attribute("testName")!;
                    Assert.That((string?)result.Attribute("outcome"), Is.EqualTo("NotExecuted"), name);
                    Assert.That(result.Descendants(ns + "Message").FirstOrDefault()?.Value, Does.Contain("(package libfuse3-3)")
                        .And.Contain("apt-get install fuse3 libfuse3-3").And.Contain("bash .ci/run"), name);
                }
            });
        }
        finally
        {
            if (Directory.Exists(results))
                Directory.Delete(results, recursive: true);
        }
    }
}
