using System.Runtime.InteropServices;

namespace DataflowVdo.Storage;

/// <summary>Linux <c>struct iovec</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct Iovec
{
    public byte* Base;
    public nuint Length;
}
