using System.Runtime.Versioning;

// The suite exercises Linux-only behaviour (file modes, FUSE, fdatasync).
[assembly: SupportedOSPlatform("linux")]
