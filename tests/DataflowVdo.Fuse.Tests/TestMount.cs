using System.Collections.Concurrent;

namespace DataflowVdo.Fuse.Tests;

/// <summary>
/// A FuseMount in a fresh directory under the test temp root. Dispose always leaves no mount
/// behind: a normal unmount first, fusermount3 -u -z / umount -l as the fallback.
/// </summary>
public sealed class TestMount : IDisposable
{
    private TestMount(string directory, FuseMount mount, ConcurrentQueue<(string Operation, Exception Error)> errors)
    {
        Directory = directory;
        Mount = mount;
        Errors = errors;
    }

    public string Directory { get; }

    public FuseMount Mount { get; }

    /// <summary>Everything the file system reported to its error sink.</summary>
    public ConcurrentQueue<(string Operation, Exception Error)> Errors { get; }

    public static TestMount Create(IImageCatalogView catalog, FuseMountOptions? options = null)
    {
        FuseTestEnvironment.RequireFuse();
        string directory = FuseTestEnvironment.NewDirectoryName("m");
        System.IO.Directory.CreateDirectory(directory);
        var errors = new ConcurrentQueue<(string, Exception)>();
        options ??= new FuseMountOptions();
        var effective = new FuseMountOptions
        {
            AllowOther = options.AllowOther,
            AutoUnmount = options.AutoUnmount,
            Debug = options.Debug,
            MaxThreads = options.MaxThreads,
            MaxWrite = options.MaxWrite,
            MaxReadahead = options.MaxReadahead,
            MaxBackground = options.MaxBackground,
            AttributeTimeout = options.AttributeTimeout,
            UnmountTimeout = TimeSpan.FromSeconds(15),
            ErrorSink = (operation, error) =>
            {
                errors.Enqueue((operation, error));
                options.ErrorSink?.Invoke(operation, error);
            },
        };
        try
        {
            return new TestMount(directory, FuseMount.Mount(catalog, directory, effective), errors);
        }
        catch
        {
            FuseTestEnvironment.TryDeleteEmptyDirectory(directory);
            throw;
        }
    }

    public string PathOf(string name) => Path.Combine(Directory, name);

    public void Dispose()
    {
        try
        {
            Mount.Unmount();
        }
        catch (TimeoutException ex)
        {
            TestContext.Progress.WriteLine($"Unmount of {Directory} timed out: {ex.Message}");
        }
        finally
        {
            if (FuseTestEnvironment.IsMounted(Directory))
            {
                FuseTestEnvironment.ForceUnmount(Directory);
            }

            FuseTestEnvironment.TryDeleteEmptyDirectory(Directory);
        }
    }
}
