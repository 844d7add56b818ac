namespace DataflowVdo.Storage;

/// <summary>A run of consecutive cached blocks: <see cref="Count"/> iovecs from <see cref="FirstIovec"/>, written at block <see cref="Pbn"/>.</summary>
internal readonly record struct CacheRun(long Pbn, int FirstIovec, int Count);
