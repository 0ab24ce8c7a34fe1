using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Four rows at a time over the <see cref="PackedMatrix.Quads"/> layout (ARM64 with DotProd): per block, every weight
/// vector holds four bytes of each of four rows, and one by-element <c>SDOT</c> (<see cref="IByteDot128.DotQuad"/>)
/// multiplies them by one activation quadruplet, leaving each row's sum in its own int32 lane. So the activations are
/// loaded once per four rows, no lane ever needs a horizontal sum, and the four rows' fp16 scales convert as one vector.
/// Q4_0 per block and group: 4 weight loads, 4 shifts + 4 masks (the nibbles, stored xor 8, become 16·(q − 8) as signed
/// bytes), 8 <c>SDOT</c>, 2 activation loads, the scales (one fp16 conversion for four rows), a convert and a fused
/// multiply-add — about 8 instructions per row-block against 14 for the one-row kernel (<see cref="PackedDot"/>).
/// Q8_0: 8 weight loads and 8 <c>SDOT</c>, no unpacking.
/// <para>
/// Every (row, token) is the same chain of operations in the one-token and the four-token forms — the block's exact
/// integer sum, times d_w·d_x, into one of two accumulators taking alternate blocks, added at the end — so prompts equal
/// decoding bit for bit. Q4_0's sums are 16 times the true sum, exactly; they meet d_w·(d_x/16), which is d_w·d_x
/// scaled by a power of two, so each product rounds as the unscaled one would.
/// </para>
/// </summary>
internal static unsafe class QuadDot
{
    /// <summary>
    /// <paramref name="row"/>, checked to start a group of four: a tile at any other row would read two groups' halves
    /// (the matmul's chunks start at multiples of four; see <see cref="MatMul"/>).
    /// </summary>
    public static int Group(int row) => (row & 3) == 0 ? row : throw new InvalidOperationException($"Row {row} does not start a group of four rows.");

    /// <summary>A Q4_0 group's block as eight vectors of signed bytes 16·(q − 8): the low nibbles of the four stored vectors, then the high ones.</summary>
    private struct Q4Weights
    {
        public Vector128<sbyte> L0, L1, L2, L3, H0, H1, H2, H3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Q4Weights(byte* q)
        {
            var m = Vector128.Create((byte)0xF0);
            var p0 = Vector128.Load(q);
            var p1 = Vector128.Load(q + 16);
            var p2 = Vector128.Load(q + 32);
            var p3 = Vector128.Load(q + 48);
            L0 = Vector128.ShiftLeft(p0, 4).AsSByte();
            L1 = Vector128.ShiftLeft(p1, 4).AsSByte();
            L2 = Vector128.ShiftLeft(p2, 4).AsSByte();
            L3 = Vector128.ShiftLeft(p3, 4).AsSByte();
            H0 = (p0 & m).AsSByte();
            H1 = (p1 & m).AsSByte();
            H2 = (p2 & m).AsSByte();
            H3 = (p3 & m).AsSByte();
        }
    }

    /// <summary>Four rows' block sums (16 times the true ones) against activations lo (x[0..15]) and hi (x[16..31]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Q4Block<TDot>(in Q4Weights w, sbyte* lo, sbyte* hi) where TDot : struct, IByteDot128
    {
        var xl = Vector128.Load(lo);
        var xh = Vector128.Load(hi);
        var a = TDot.DotQuad(Vector128<int>.Zero, w.L0, xl, 0);
        var b = TDot.DotQuad(Vector128<int>.Zero, w.H0, xh, 0);
        a = TDot.DotQuad(a, w.L1, xl, 1);
        b = TDot.DotQuad(b, w.H1, xh, 1);
        a = TDot.DotQuad(a, w.L2, xl, 2);
        b = TDot.DotQuad(b, w.H2, xh, 2);
        a = TDot.DotQuad(a, w.L3, xl, 3);
        b = TDot.DotQuad(b, w.H3, xh, 3);
        return a + b;
    }

    /// <summary>A Q8_0 group's block: its eight stored vectors.</summary>
    private struct Q8Weights
    {
        public Vector128<sbyte> V0, V1, V2, V3, V4, V5, V6, V7;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Q8Weights(sbyte* q)
        {
            V0 = Vector128.Load(q);
            V1 = Vector128.Load(q + 16);
            V2 = Vector128.Load(q + 32);
            V3 = Vector128.Load(q + 48);
            V4 = Vector128.Load(q + 64);
            V5 = Vector128.Load(q + 80);
            V6 = Vector128.Load(q + 96);
            V7 = Vector128.Load(q + 112);
        }
    }

    /// <summary>Four rows' exact block sums against the block's 32 activations at <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Q8Block<TDot>(in Q8Weights w, sbyte* x) where TDot : struct, IByteDot128
    {
        var xl = Vector128.Load(x);
        var xh = Vector128.Load(x + 16);
        var a = TDot.DotQuad(Vector128<int>.Zero, w.V0, xl, 0);
        var b = TDot.DotQuad(Vector128<int>.Zero, w.V4, xh, 0);
        a = TDot.DotQuad(a, w.V1, xl, 1);
        b = TDot.DotQuad(b, w.V5, xh, 1);
        a = TDot.DotQuad(a, w.V2, xl, 2);
        b = TDot.DotQuad(b, w.V6, xh, 2);
        a = TDot.DotQuad(a, w.V3, xl, 3);
        b = TDot.DotQuad(b, w.V7, xh, 3);
        return a + b;
    }

    /// <summary>acc + float(sum) · (four rows' scales · d_x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Scale<TDot>(Vector128<float> acc, Vector128<int> sum, Vector128<float> dw, float dx) where TDot : struct, IByteDot128 =>
        TDot.MultiplyAdd(acc, Vector128.ConvertToSingle(sum), dw * Vector128.Create(dx));

    /// <summary>Rows r…r+3 (a group of <see cref="PackedMatrix.Quads"/>) · one Q4_0-prepared token: y[0..3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4x1<TDot>(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x, float* y) where TDot : struct, IByteDot128
    {
        Vector128<float> e = default, o = default;
        int b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            e = Scale<TDot>(e, Q4Block<TDot>(new Q4Weights(wq + b * 64), x.Lo + b * 16, x.Hi + b * 16), PackedDot.Half4(ws + b * 4), x.D[b] * 0.0625f);
            o = Scale<TDot>(o, Q4Block<TDot>(new Q4Weights(wq + b * 64 + 64), x.Lo + b * 16 + 16, x.Hi + b * 16 + 16), PackedDot.Half4(ws + b * 4 + 4), x.D[b + 1] * 0.0625f);
        }
        if (b < blocks)
            e = Scale<TDot>(e, Q4Block<TDot>(new Q4Weights(wq + b * 64), x.Lo + b * 16, x.Hi + b * 16), PackedDot.Half4(ws + b * 4), x.D[b] * 0.0625f);
        (e + o).Store(y);
    }

    /// <summary>Rows r…r+3 · tokens t…t+3: y[j·stride + i] for token t + j, row r + i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4x4<TDot>(ushort* ws, byte* wq, int blocks, PackedActivations acts, int t, float* y, long stride) where TDot : struct, IByteDot128
    {
        var x0 = acts.For(t);
        var x1 = acts.For(t + 1);
        var x2 = acts.For(t + 2);
        var x3 = acts.For(t + 3);
        Vector128<float> e0 = default, e1 = default, e2 = default, e3 = default, o0 = default, o1 = default, o2 = default, o3 = default;
        for (int b = 0; b < blocks; b++)
        {
            var w = new Q4Weights(wq + b * 64);
            var dw = PackedDot.Half4(ws + b * 4);
            long xo = b * 16;
            var s0 = Q4Block<TDot>(w, x0.Lo + xo, x0.Hi + xo);
            var s1 = Q4Block<TDot>(w, x1.Lo + xo, x1.Hi + xo);
            var s2 = Q4Block<TDot>(w, x2.Lo + xo, x2.Hi + xo);
            var s3 = Q4Block<TDot>(w, x3.Lo + xo, x3.Hi + xo);
            if ((b & 1) == 0)
            {
                e0 = Scale<TDot>(e0, s0, dw, x0.D[b] * 0.0625f);
                e1 = Scale<TDot>(e1, s1, dw, x1.D[b] * 0.0625f);
                e2 = Scale<TDot>(e2, s2, dw, x2.D[b] * 0.0625f);
                e3 = Scale<TDot>(e3, s3, dw, x3.D[b] * 0.0625f);
            }
            else
            {
                o0 = Scale<TDot>(o0, s0, dw, x0.D[b] * 0.0625f);
                o1 = Scale<TDot>(o1, s1, dw, x1.D[b] * 0.0625f);
                o2 = Scale<TDot>(o2, s2, dw, x2.D[b] * 0.0625f);
                o3 = Scale<TDot>(o3, s3, dw, x3.D[b] * 0.0625f);
            }
        }
        (e0 + o0).Store(y);
        (e1 + o1).Store(y + stride);
        (e2 + o2).Store(y + 2 * stride);
        (e3 + o3).Store(y + 3 * stride);
    }

    /// <summary>Rows r…r+3 (a group of <see cref="PackedMatrix.Quads"/>) · one Q8_0-prepared token: y[0..3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8x1<TDot>(ushort* ws, sbyte* wq, int blocks, in PackedActivations.Token x, float* y) where TDot : struct, IByteDot128
    {
        Vector128<float> e = default, o = default;
        int b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            e = Scale<TDot>(e, Q8Block<TDot>(new Q8Weights(wq + b * 128), x.X8 + b * 32), PackedDot.Half4(ws + b * 4), x.D[b]);
            o = Scale<TDot>(o, Q8Block<TDot>(new Q8Weights(wq + b * 128 + 128), x.X8 + b * 32 + 32), PackedDot.Half4(ws + b * 4 + 4), x.D[b + 1]);
        }
        if (b < blocks)
            e = Scale<TDot>(e, Q8Block<TDot>(new Q8Weights(wq + b * 128), x.X8 + b * 32), PackedDot.Half4(ws + b * 4), x.D[b]);
        (e + o).Store(y);
    }

    /// <summary>Rows r…r+3 · tokens t…t+3 of Q8_0: y[j·stride + i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8x4<TDot>(ushort* ws, sbyte* wq, int blocks, PackedActivations acts, int t, float* y, long stride) where TDot : struct, IByteDot128
    {
        var x0 = acts.For(t);
        var x1 = acts.For(t + 1);
        var x2 = acts.For(t + 2);
        var x3 = acts.For(t + 3);
        Vector128<float> e0 = default, e1 = default, e2 = default, e3 = default, o0 = default, o1 = default, o2 = default, o3 = default;
        for (int b = 0; b < blocks; b++)
        {
            var w = new Q8Weights(wq + b * 128);
            var dw = PackedDot.Half4(ws + b * 4);
            long xo = b * 32;
            var s0 = Q8Block<TDot>(w, x0.X8 + xo);
            var s1 = Q8Block<TDot>(w, x1.X8 + xo);
            var s2 = Q8Block<TDot>(w, x2.X8 + xo);
            var s3 = Q8Block<TDot>(w, x3.X8 + xo);
            if ((b & 1) == 0)
            {
                e0 = Scale<TDot>(e0, s0, dw, x0.D[b]);
                e1 = Scale<TDot>(e1, s1, dw, x1.D[b]);
                e2 = Scale<TDot>(e2, s2, dw, x2.D[b]);
                e3 = Scale<TDot>(e3, s3, dw, x3.D[b]);
            }
            else
            {
                o0 = Scale<TDot>(o0, s0, dw, x0.D[b]);
                o1 = Scale<TDot>(o1, s1, dw, x1.D[b]);
                o2 = Scale<TDot>(o2, s2, dw, x2.D[b]);
                o3 = Scale<TDot>(o3, s3, dw, x3.D[b]);
            }
        }
        (e0 + o0).Store(y);
        (e1 + o1).Store(y + stride);
        (e2 + o2).Store(y + 2 * stride);
        (e3 + o3).Store(y + 3 * stride);
    }
}
