namespace DataflowVdo.Tests.Backup;

/// <summary>Deterministic test streams for backup ingest.</summary>
internal static class BackupStreams
{
    public static byte[] Random(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>Text-like bytes: LZ4 halves them or better, no two 4 KiB blocks equal.</summary>
    public static byte[] Compressible(int length, int seed)
    {
        var random = new Random(seed);
        var words = new[] { "block ", "pool ", "dedupe ", "journal ", "slab ", "image ", "backup ", "chunk " };
        var text = new System.Text.StringBuilder(length + 16);
        while (text.Length < length)
            text.Append(words[random.Next(words.Length)]).Append(random.Next(1000));
        return System.Text.Encoding.ASCII.GetBytes(text.ToString())[..length];
    }

    /// <summary>Random 4 KiB blocks, each repeated several times in a random order.</summary>
    public static byte[] DuplicateHeavy(int length, int seed)
    {
        var random = new Random(seed);
        var distinct = Random(16 * 4096, seed + 1);
        var data = new byte[length];
        for (var at = 0; at < length; at += 4096)
            distinct.AsSpan(random.Next(16) * 4096, Math.Min(4096, length - at)).CopyTo(data.AsSpan(at));
        return data;
    }

    /// <summary>
    /// <paramref name="blocks"/> random 4 KiB blocks of which a share <paramref name="copies"/>
    /// are copies of earlier ones, each at its 4 KiB offset (as in a VM image or a block-level copy).
    /// </summary>
    public static byte[] AlignedCopies(int blocks, double copies, int seed)
    {
        var random = new Random(seed);
        var data = Random(blocks * 4096, seed + 1);
        for (var b = 1; b < blocks; b++)
        {
            if (random.NextDouble() < copies)
                data.AsSpan(random.Next(b) * 4096, 4096).CopyTo(data.AsSpan(b * 4096));
        }
        return data;
    }

    /// <summary>
    /// A tar-like stream: members of random size, each a 512-byte header then its bytes padded
    /// to 512. <paramref name="generation"/> &gt; 1 edits a few members (inserting and deleting
    /// bytes), which shifts everything after them.
    /// </summary>
    public static byte[] TarLike(int members, int generation, int seed)
    {
        var random = new Random(seed);
        using var output = new MemoryStream();
        for (var m = 0; m < members; m++)
        {
            var size = random.Next(2_000, 60_000);
            var body = Random(size, seed * 1000 + m);
            if (generation > 1 && m % 10 == 3)
            {
                // Edit: insert 1000 bytes in the middle and drop 11 near the end (tar shifts the rest by 512 or 1024).
                var inserted = Random(1000, seed + m + generation);
                body = [.. body[..(size / 2)], .. inserted, .. body[(size / 2)..(size - 100)], .. body[(size - 89)..]];
            }
            var header = new byte[512];
            System.Text.Encoding.ASCII.GetBytes($"member-{m:D5} size {body.Length}").CopyTo(header, 0);
            output.Write(header);
            output.Write(body);
            output.Write(new byte[(512 - (body.Length % 512)) % 512]);
        }
        return output.ToArray();
    }
}
