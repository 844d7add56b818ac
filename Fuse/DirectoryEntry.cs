namespace DataflowVdo.Fuse;

/// <summary>One readdir entry of the root directory, in the order the kernel will page through it.</summary>
internal readonly record struct DirectoryEntry(string Name, ulong Inode, bool IsDirectory);
