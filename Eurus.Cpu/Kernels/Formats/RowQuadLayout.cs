namespace Eurus.Cpu.Kernels;

/// <summary>
/// The regrouping shared by the row-quad repacks (<see cref="PackedMatrix"/>, <see cref="QmKPacked"/>,
/// <see cref="Q6KPacked"/> with <c>Quads</c>): an array filled per row — rows of <c>blocks</c> blocks of
/// <c>perBlock</c> elements — is rewritten in place, group of four rows by group, as [block][element][row], so that
/// element j of a block of the four rows lies side by side. With four-byte elements (<c>uint</c>) that is the quant
/// layout the by-element <c>SDOT</c> reads (int32 lane i = four bytes of row i); with the scales' own element types it
/// puts the four rows' scales of a block in one vector. Rows after the last whole group are left as they are.
/// </summary>
internal static unsafe class RowQuadLayout
{
    /// <summary>Regroups rows [0, rows &amp; ~3) of <paramref name="data"/> (see the class summary).</summary>
    public static void Interleave<T>(T* data, int rows, int blocks, int perBlock) where T : unmanaged
    {
        long rowLength = (long)blocks * perBlock;
        var copy = new T[checked(4 * rowLength)];
        fixed (T* t = copy)
            for (int g = 0; g < (rows & ~3); g += 4)
            {
                T* group = data + g * rowLength;
                Buffer.MemoryCopy(group, t, copy.Length * (long)sizeof(T), copy.Length * (long)sizeof(T));
                for (long b = 0; b < blocks; b++)
                    for (int j = 0; j < perBlock; j++)
                        for (int r = 0; r < 4; r++)
                            group[(b * perBlock + j) * 4 + r] = t[r * rowLength + b * perBlock + j];
            }
    }
}
