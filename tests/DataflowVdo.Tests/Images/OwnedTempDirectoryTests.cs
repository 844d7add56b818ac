using System.Diagnostics;

namespace DataflowVdo.Tests.Images;

/// <summary>
/// The leftover cleanup removes only what dead test runs left: two suites running side by side on
/// one machine must not unmount or delete each other's pools.
/// </summary>
public sealed class OwnedTempDirectoryTests
{
    private static readonly string Prefix = Path.Combine(Path.GetTempPath(), "dvdo-mount-cli-");

    [Test]
    public void ADirectoryOfThisRunIsKept() =>
        Assert.That(OwnedTempDirectory.IsAbandoned(Path.Combine(OwnedTempDirectory.NewName(Prefix), "pool.mount"), Prefix), Is.False);

    [Test]
    public void ADirectoryOfAnotherLiveProcessIsKept()
    {
        using var other = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        try
        {
            Assert.That(OwnedTempDirectory.IsAbandoned($"{Prefix}{other.Id}-0123abcd", Prefix), Is.False);
        }
        finally
        {
            other.Kill();
            other.WaitForExit();
        }
    }

    [Test]
    public void ADirectoryOfADeadProcessOrWithoutAnOwnerIsRemoved()
    {
        using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        gone.WaitForExit();
        Assert.Multiple(() =>
        {
            Assert.That(OwnedTempDirectory.IsAbandoned($"{Prefix}{gone.Id}-0123abcd", Prefix), Is.True);
            Assert.That(OwnedTempDirectory.IsAbandoned($"{Prefix}0123456789abcdef0123456789abcdef", Prefix), Is.True, "an older run's name");
        });
    }
}
