using System.Runtime.Intrinsics;
using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Kernels;

// The tile kernels of the K-quants for the tile driver: the AVX-VNNI repacks (QmKPacked, Q6KPacked) and the file's own
// layout (AVX-512BW tiles, or rows only).

/// <summary>
/// Q4_K or Q5_K over the VNNI repack (<see cref="VnniKQuant"/>) with AVX-VNNI or AVX2's multiply-adds (<typeparamref name="TDot"/>), two rows × four tokens; the row block's scales (rows from
/// <paramref name="r0"/>) are converted to floats at <paramref name="scales"/> once per row block and token chunk
/// instead of once per tile.
/// </summary>
internal readonly unsafe struct QmKVnni<TBits, TDot>(QmKPacked m, KQuantActivations x, float* scales, int r0, bool far) : ITileKernel
    where TBits : struct, IQuantBits where TDot : struct, IByteDot
{
    public int TileRows => 2;
    public int TileTokens => 4;
    public int SmallTileTokens => 0;
    private float* Scales(int row) => scales + (long)(row - r0) * m.SuperBlocks * VnniKQuant.ScaleFloats;
    public void PrepareBlock(int first, int end)
    {
        for (int row = first; row + 1 < end; row += 2)
        {
            VnniKQuant.QmKScales(m, row, Scales(row));
            VnniKQuant.QmKScales(m, row + 1, Scales(row + 1));
        }
    }
    public void Tile(int row, int t, float* y, long stride) => VnniKQuant.QmKTile2x4<TBits, TDot>(m, row, Scales(row), Scales(row + 1), x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) { }
    public float Row(int row, int t) => VnniKQuant.QmK<TBits, TDot>(m, row, x, t, far);
}

/// <summary>
/// Q6_K over the VNNI repack in <typeparamref name="TLayout"/>, as <see cref="QmKVnni{TBits, TDot}"/>. The tiles read
/// the byte form: a compact matrix's row block is expanded once per row block and token chunk into
/// <paramref name="expanded"/> (<see cref="Q6KPacked.ExpandRows"/>, 256 bytes per super-block and row of the block),
/// rows (decoding) read the compact form itself.
/// </summary>
internal readonly unsafe struct Q6KVnni<TDot, TLayout>(Q6KPacked m, KQuantActivations x, float* scales, byte* expanded, int r0, bool far) : ITileKernel
    where TDot : struct, IByteDot where TLayout : struct, IQ6Layout
{
    public int TileRows => 2;
    public int TileTokens => 4;
    public int SmallTileTokens => 0;
    private float* Scales(int row) => scales + (long)(row - r0) * m.SuperBlocks * VnniKQuant.ScaleFloats;
    private byte* Quants(int row) => typeof(TLayout) == typeof(Q6Compact) ? expanded + (long)(row - r0) * m.SuperBlocks * Q6Bytes.Bytes : m.RowQs(row);
    public void PrepareBlock(int first, int end)
    {
        int row = first;
        for (; row + 1 < end; row += 2)
        {
            VnniKQuant.Q6KScales(m, row, Scales(row));
            VnniKQuant.Q6KScales(m, row + 1, Scales(row + 1));
        }
        if (typeof(TLayout) == typeof(Q6Compact)) m.ExpandRows(first, row - first, expanded);
    }
    public void Tile(int row, int t, float* y, long stride) =>
        VnniKQuant.Q6KTile2x4<TDot>(Quants(row), Quants(row + 1), m.SuperBlocks, Scales(row), Scales(row + 1), x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) { }
    public float Row(int row, int t) => VnniKQuant.Q6K<TDot, TLayout>(m, row, x, t, far);
}

/// <summary>Q4_K/Q5_K/Q6_K in the file's layout on AVX-512BW: one row × eight tokens, then one row × four (<see cref="KQuantTile"/>).</summary>
internal readonly unsafe struct KQuantAvx512(GgmlType type, byte* data, int rowBytes, int superBlocks, KQuantActivations x) : ITileKernel
{
    public int TileRows => 1;
    public int TileTokens => 8;
    public int SmallTileTokens => 4;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) => KQuantTile.Tile8(type, data + (long)row * rowBytes, superBlocks, x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) => KQuantTile.Tile4(type, data + (long)row * rowBytes, superBlocks, x, t, y, stride);
    public float Row(int row, int t) => KQuantDot.Dot(type, data + (long)row * rowBytes, superBlocks, x.For(t));
}

/// <summary>Q4_K/Q5_K/Q6_K in the file's layout, row kernels only (<see cref="KQuantDot"/>).</summary>
internal readonly unsafe struct KQuantRows(GgmlType type, byte* data, int rowBytes, int superBlocks, KQuantActivations x) : IRowKernel
{
    public float Row(int row, int t) => KQuantDot.Dot(type, data + (long)row * rowBytes, superBlocks, x.For(t));
}

/// <summary>
/// Q4_K/Q5_K/Q6_K in the file's layout on the 128-bit kernels (<typeparamref name="TDot"/>: ARM64 SDOT, or portable
/// Vector128 where neither AVX2 nor DotProd runs): one row × four tokens (<see cref="KQuantTile128"/>), rows by the same
/// 128-bit row kernel.
/// </summary>
internal readonly unsafe struct KQuantLanes128<TDot>(GgmlType type, byte* data, int rowBytes, int superBlocks, KQuantActivations x) : ITileKernel
    where TDot : struct, IByteDot128
{
    public int TileRows => 1;
    public int TileTokens => 4;
    public int SmallTileTokens => 0;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) => KQuantTile128.Tile4<TDot>(type, data + (long)row * rowBytes, superBlocks, x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) { }
    public float Row(int row, int t) => KQuantTile128.Row<TDot>(type, data + (long)row * rowBytes, superBlocks, x.For(t));
}

/// <summary>
/// Q4_K/Q5_K in row quads (<see cref="QmKPacked.Quads"/>, ARM64 with DotProd): four rows × four tokens and four rows ×
/// one token (<see cref="KQuantQuads"/>); rows start at multiples of four (the matmul aligns its chunks). A row alone takes
/// its group's one-token result, so it equals the tiles bit for bit; rows after the last whole group run the one-row
/// kernel over the file's bytes (<paramref name="data"/>).
/// </summary>
internal readonly unsafe struct QmKQuads<TBits, TDot>(QmKPacked m, byte* data, int rowBytes, KQuantActivations x) : ITileKernel
    where TBits : struct, IQuantBits where TDot : struct, IByteDot128
{
    public int TileRows => 4;
    public int TileTokens => 4;
    public int SmallTileTokens => 1;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) => KQuantQuads.X4<TBits, TDot>(m, QuadDot.Group(row), x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) => KQuantQuads.X1<TBits, TDot>(m, QuadDot.Group(row), x.For(t), y);
    public float Row(int row, int t)
    {
        if (row >= m.QuadRows) return KQuantTile128.Row<TDot>(m.Type, data + (long)row * rowBytes, m.SuperBlocks, x.For(t));
        Vector128<float> y;
        KQuantQuads.X1<TBits, TDot>(m, row & ~3, x.For(t), (float*)&y);
        return y.GetElement(row & 3);
    }
}

/// <summary>Q6_K in row quads (<see cref="Q6KPacked.Quads"/>, ARM64 with DotProd): as <see cref="QmKQuads{TBits, TDot}"/>, over <see cref="Q6KQuads"/>.</summary>
internal readonly unsafe struct Q6KQuads<TDot>(Q6KPacked m, byte* data, int rowBytes, KQuantActivations x) : ITileKernel where TDot : struct, IByteDot128
{
    public int TileRows => 4;
    public int TileTokens => 4;
    public int SmallTileTokens => 1;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) => Kernels.Q6KQuads.X4<TDot>(m, QuadDot.Group(row), x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) => Kernels.Q6KQuads.X1<TDot>(m, QuadDot.Group(row), x.For(t), y);
    public float Row(int row, int t)
    {
        if (row >= m.QuadRows) return KQuantTile128.Row<TDot>(Gguf.GgmlType.Q6_K, data + (long)row * rowBytes, m.SuperBlocks, x.For(t));
        Vector128<float> y;
        Kernels.Q6KQuads.X1<TDot>(m, row & ~3, x.For(t), (float*)&y);
        return y.GetElement(row & 3);
    }
}
