using System.Text;

namespace DataflowVdo.Tests.Workloads;

/// <summary>A corpus folder under the temp directory, deleted on dispose.</summary>
internal sealed class TempCorpusFolder : IDisposable
{
    public TempCorpusFolder()
    {
        Path = Directory.CreateTempSubdirectory("dvdo-corpus-").FullName;
    }

    public string Path { get; }

    /// <summary>Writes <paramref name="content"/> to <paramref name="relativePath"/>, creating folders.</summary>
    public string Write(string relativePath, byte[] content)
    {
        string full = System.IO.Path.Combine(Path, relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
        return full;
    }

    /// <summary>A few files of text-like data that LZ4 compresses, as a stand-in for the SDK corpus.</summary>
    public static TempCorpusFolder WithTextFiles(int files = 4, int bytesPerFile = 64 * 1024)
    {
        var folder = new TempCorpusFolder();
        for (int f = 0; f < files; f++)
        {
            var text = new StringBuilder();
            for (int line = 0; text.Length < bytesPerFile; line++)
            {
                text.Append("file ").Append(f).Append(" line ").Append(line)
                    .Append(": value=").Append((line * 7919 + f * 104729) % 100_003).Append('\n');
            }

            folder.Write($"f{f:D2}.txt", Encoding.ASCII.GetBytes(text.ToString(0, bytesPerFile)));
        }

        return folder;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not fail the test run.
        }
    }
}
