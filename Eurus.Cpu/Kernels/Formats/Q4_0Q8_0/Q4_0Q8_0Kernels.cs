using System.Runtime.Intrinsics;

namespace Eurus.Cpu.Kernels;

// The tile kernels of the Q4_0/Q8_0 repacks (PackedMatrix) for the tile driver, one struct per ISA variant. Q5_0,
// Q4_1 and Q5_1 run through the Q8_0 ones (their quants repacked as Q8_0).

/// <summary>
/// Q4_0 over the interleaved repack (<see cref="VnniDot"/>): two rows × four tokens, with AVX-VNNI
/// (<see cref="VnniByteDot"/>) or AVX2's multiply-adds (<see cref="MaddByteDot"/>).
/// </summary>
internal readonly unsafe struct Q4_0Interleaved<TDot>(PackedMatrix m, int blocks, PackedActivations x, bool far) : ITileKernel where TDot : struct, IByteDot
{
    public int TileRows => 2;
    public int TileTokens => 4;
    public int SmallTileTokens => 0;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) =>
        VnniDot.Q4Tile2x4<TDot>(m.RowScales(row), m.RowQs(row), m.RowScales(row + 1), m.RowQs(row + 1), blocks, x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) { }
    public float Row(int row, int t) => VnniDot.Q4<TDot>(m.RowScales(row), m.RowQs(row), blocks, x.For(t), far);
}

/// <summary>
/// Q8_0 over the interleaved repack: two rows × four tokens, with AVX-VNNI (the +128 weights, from −128·Σx) or AVX2's
/// multiply-adds (the signed weights, the sign moved onto the activations: <see cref="MaddByteDot.DpQ8"/>).
/// </summary>
internal readonly unsafe struct Q8_0Interleaved<TDot>(PackedMatrix m, int blocks, PackedActivations x, bool far) : ITileKernel where TDot : struct, IByteDot
{
    public int TileRows => 2;
    public int TileTokens => 4;
    public int SmallTileTokens => 0;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) =>
        VnniDot.Q8Tile2x4<TDot>(m.RowScales(row), m.RowQs(row), m.RowScales(row + 1), m.RowQs(row + 1), blocks, x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) { }
    public float Row(int row, int t) => VnniDot.Q8<TDot>(m.RowScales(row), m.RowQs(row), blocks, x.For(t), far);
}

/// <summary>Q4_0 on AVX-512BW: two rows × four tokens, then two rows × two (<see cref="PackedGemm"/>); rows by <see cref="PackedDot"/>.</summary>
internal readonly unsafe struct Q4_0Avx512(PackedMatrix m, int blocks, PackedActivations x) : ITileKernel
{
    public int TileRows => 2;
    public int TileTokens => 4;
    public int SmallTileTokens => 2;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) =>
        PackedGemm.Q4Tile2x4(m.RowScales(row), m.RowQs(row), m.RowScales(row + 1), m.RowQs(row + 1), blocks, x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) =>
        PackedGemm.Q4Tile2x2(m.RowScales(row), m.RowQs(row), m.RowScales(row + 1), m.RowQs(row + 1), blocks, x, t, y, stride);
    public float Row(int row, int t) => PackedDot.Q4(m.RowScales(row), m.RowQs(row), blocks, x.For(t));
}

/// <summary>Q8_0 on AVX-512BW: one row × four tokens, then one row × two; rows by <see cref="PackedDot"/>.</summary>
internal readonly unsafe struct Q8_0Avx512(PackedMatrix m, int blocks, PackedActivations x) : ITileKernel
{
    public int TileRows => 1;
    public int TileTokens => 4;
    public int SmallTileTokens => 2;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) => PackedGemm.Q8Tile4(m.RowScales(row), (sbyte*)m.RowQs(row), blocks, x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) => PackedGemm.Q8Tile2(m.RowScales(row), (sbyte*)m.RowQs(row), blocks, x, t, y, stride);
    public float Row(int row, int t) => PackedDot.Q8(m.RowScales(row), (sbyte*)m.RowQs(row), blocks, x.For(t));
}

/// <summary>Q4_0 row kernels only (<see cref="PackedDot"/>: AVX-512, AVX2, Vector128 or scalar, widest first).</summary>
internal readonly unsafe struct Q4_0Rows(PackedMatrix m, int blocks, PackedActivations x) : IRowKernel
{
    public float Row(int row, int t) => PackedDot.Q4(m.RowScales(row), m.RowQs(row), blocks, x.For(t));
}

/// <summary>Q8_0 row kernels only.</summary>
internal readonly unsafe struct Q8_0Rows(PackedMatrix m, int blocks, PackedActivations x) : IRowKernel
{
    public float Row(int row, int t) => PackedDot.Q8(m.RowScales(row), (sbyte*)m.RowQs(row), blocks, x.For(t));
}

/// <summary>
/// Q4_0 on the 128-bit kernels (<typeparamref name="TDot"/>: ARM64 SDOT, or portable Vector128 where neither AVX2 nor
/// DotProd runs): one row × four tokens (<see cref="PackedTile128"/>), rows by the same 128-bit row kernel.
/// </summary>
internal readonly unsafe struct Q4_0Lanes128<TDot>(PackedMatrix m, int blocks, PackedActivations x) : ITileKernel where TDot : struct, IByteDot128
{
    public int TileRows => 1;
    public int TileTokens => 4;
    public int SmallTileTokens => 0;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) => PackedTile128.Q4Tile1x4<TDot>(m.RowScales(row), m.RowQs(row), blocks, x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) { }
    public float Row(int row, int t) => PackedDot.Q4Lanes128<TDot>(m.RowScales(row), m.RowQs(row), blocks, x.For(t));
}

/// <summary>Q8_0 on the 128-bit kernels: one row × four tokens, rows by the same 128-bit row kernel.</summary>
internal readonly unsafe struct Q8_0Lanes128<TDot>(PackedMatrix m, int blocks, PackedActivations x) : ITileKernel where TDot : struct, IByteDot128
{
    public int TileRows => 1;
    public int TileTokens => 4;
    public int SmallTileTokens => 0;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) => PackedTile128.Q8Tile1x4<TDot>(m.RowScales(row), (sbyte*)m.RowQs(row), blocks, x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) { }
    public float Row(int row, int t) => PackedDot.Q8Lanes128<TDot>(m.RowScales(row), (sbyte*)m.RowQs(row), blocks, x.For(t));
}

/// <summary>
/// Q4_0 (<see cref="QuadDot.Q4Block"/>) or Q8_0 and Q5_0 run as Q8_0 (<see cref="QuadDot.Q8Block"/>) in row quads
/// (<see cref="PackedMatrix.Quads"/>, ARM64 with DotProd): four rows × four tokens and four rows × one token
/// (<see cref="QuadDot"/>); rows start at multiples of four (the matmul aligns its chunks). A row alone takes its
/// group's one-token result, so it equals the tiles bit for bit; rows after the last whole group are plain.
/// </summary>
internal readonly unsafe struct PackedQuads<TBlock, TDot>(PackedMatrix m, int blocks, PackedActivations x) : ITileKernel
    where TBlock : struct, QuadDot.IQuadBlock<TBlock> where TDot : struct, IByteDot128
{
    public int TileRows => 4;
    public int TileTokens => 4;
    public int SmallTileTokens => 1;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) => QuadDot.X4<TBlock, TDot>(m.GroupScales(QuadDot.Group(row)), m.GroupQs(row), blocks, x, t, y, stride);
    public void SmallTile(int row, int t, float* y, long stride) => QuadDot.X1<TBlock, TDot>(m.GroupScales(QuadDot.Group(row)), m.GroupQs(row), blocks, x.For(t), y);
    public float Row(int row, int t)
    {
        if (row >= m.QuadRows) return TBlock.PlainRow<TDot>(m.RowScales(row), m.RowQs(row), blocks, x.For(t));
        Vector128<float> y;
        int g = row & ~3;
        QuadDot.X1<TBlock, TDot>(m.GroupScales(g), m.GroupQs(g), blocks, x.For(t), (float*)&y);
        return y.GetElement(row & 3);
    }
}
