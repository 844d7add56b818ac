namespace DataflowVdo.Blocks;

/// <summary>
/// What a write does when it finds no free block, in every scheme: before it fails with
/// <c>OutOfSpaceException</c> it frees what is only held back (the packer's bins are written,
/// giving back all but one provisional block per bin; the journal commits, applying the
/// decrements that waited for it) and tries again, up to <see cref="Retries"/> times. A data
/// block and a block-map page are allocated alike.
/// </summary>
public static class SpacePolicy
{
    /// <summary>
    /// Rounds of freeing held-back space before a write fails for want of space. Two: in the
    /// zoned schemes a round's frees reach the physical zones through their queues, and the
    /// packed blocks written in the first round journal (and free their members' old blocks)
    /// only after it.
    /// </summary>
    public const int Retries = 2;
}
