namespace DataflowVdo.Fuse.Tests;

public sealed class MountTableTests
{
    [Test]
    public void ParsesMountInfoLinesAndUnescapesPaths()
    {
        string file = Path.Combine(Path.GetTempPath(), $"dvdo-mountinfo-{Guid.NewGuid():N}");
        File.WriteAllLines(file,
        [
            "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
            @"42 27 0:39 / /tmp/with\040space rw,nosuid,nodev,relatime - fuse.dvdo dvdo rw,user_id=0,group_id=0",
            "garbage line",
        ]);
        try
        {
            var entries = MountTable.Read(file);
            Assert.That(entries, Has.Count.EqualTo(2));
            Assert.That(entries[1], Is.EqualTo(new MountTable.Entry("/tmp/with space", "fuse.dvdo", "dvdo", 0, 39)));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
