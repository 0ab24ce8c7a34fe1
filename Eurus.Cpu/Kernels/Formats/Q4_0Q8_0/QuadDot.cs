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

    /// <summary>
    /// One block of a group of four rows in one format: loaded (and unpacked) once, then multiplied by any token's
    /// prepared activations. The format also says its bytes per block and group, and the activation scale its sums
    /// meet (Q4_0's are 16 times the true ones, so d_x/16).
    /// </summary>
    internal interface IQuadBlock<TSelf> where TSelf : struct, IQuadBlock<TSelf>
    {
        /// <summary>Quant bytes per block of a group (four rows).</summary>
        static abstract int Bytes { get; }

        /// <summary>The block at <paramref name="q"/>.</summary>
        static abstract TSelf Load(byte* q);

        /// <summary>The four rows' block sums against block <paramref name="b"/> of token <paramref name="x"/>.</summary>
        Vector128<int> Sum<TDot>(in PackedActivations.Token x, int b) where TDot : struct, IByteDot128;

        /// <summary>The activation scale those sums meet.</summary>
        static abstract float Dx(in PackedActivations.Token x, int b);

        /// <summary>The one-row kernel over the plain layout, for the rows after a matrix's last whole group.</summary>
        static abstract float PlainRow<TDot>(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x) where TDot : struct, IByteDot128;
    }

    /// <summary>
    /// A block's four rows' sums: weight vectors a0–a3 against the four quadruplets of activations <paramref name="xa"/>
    /// and b0–b3 against those of <paramref name="xb"/>, in two chains.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> Eight<TDot>(Vector128<sbyte> a0, Vector128<sbyte> a1, Vector128<sbyte> a2, Vector128<sbyte> a3, Vector128<sbyte> xa,
        Vector128<sbyte> b0, Vector128<sbyte> b1, Vector128<sbyte> b2, Vector128<sbyte> b3, Vector128<sbyte> xb) where TDot : struct, IByteDot128
    {
        var s = TDot.DotQuad(Vector128<int>.Zero, a0, xa, 0);
        var t = TDot.DotQuad(Vector128<int>.Zero, b0, xb, 0);
        s = TDot.DotQuad(s, a1, xa, 1);
        t = TDot.DotQuad(t, b1, xb, 1);
        s = TDot.DotQuad(s, a2, xa, 2);
        t = TDot.DotQuad(t, b2, xb, 2);
        s = TDot.DotQuad(s, a3, xa, 3);
        t = TDot.DotQuad(t, b3, xb, 3);
        return s + t;
    }

    /// <summary>A Q4_0 group's block as eight vectors of signed bytes 16·(q − 8): the low nibbles of the four stored vectors, then the high ones.</summary>
    internal struct Q4Block : IQuadBlock<Q4Block>
    {
        private Vector128<sbyte> _l0, _l1, _l2, _l3, _h0, _h1, _h2, _h3;

        public static int Bytes => 64;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Q4Block Load(byte* q)
        {
            var m = Vector128.Create((byte)0xF0);
            var p0 = Vector128.Load(q);
            var p1 = Vector128.Load(q + 16);
            var p2 = Vector128.Load(q + 32);
            var p3 = Vector128.Load(q + 48);
            Q4Block w;
            w._l0 = Vector128.ShiftLeft(p0, 4).AsSByte();
            w._l1 = Vector128.ShiftLeft(p1, 4).AsSByte();
            w._l2 = Vector128.ShiftLeft(p2, 4).AsSByte();
            w._l3 = Vector128.ShiftLeft(p3, 4).AsSByte();
            w._h0 = (p0 & m).AsSByte();
            w._h1 = (p1 & m).AsSByte();
            w._h2 = (p2 & m).AsSByte();
            w._h3 = (p3 & m).AsSByte();
            return w;
        }

        /// <summary>Against the block's activations x[0..15] (Lo) and x[16..31] (Hi).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Vector128<int> Sum<TDot>(in PackedActivations.Token x, int b) where TDot : struct, IByteDot128
        {
            return Eight<TDot>(_l0, _l1, _l2, _l3, Vector128.Load(x.Lo + b * 16), _h0, _h1, _h2, _h3, Vector128.Load(x.Hi + b * 16));
        }

        public static float Dx(in PackedActivations.Token x, int b) => x.D[b] * 0.0625f;

        public static float PlainRow<TDot>(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x) where TDot : struct, IByteDot128 =>
            PackedDot.Q4Lanes128<TDot>(ws, wq, blocks, x);
    }

    /// <summary>A Q8_0 group's block: its eight stored vectors.</summary>
    internal struct Q8Block : IQuadBlock<Q8Block>
    {
        private Vector128<sbyte> _v0, _v1, _v2, _v3, _v4, _v5, _v6, _v7;

        public static int Bytes => 128;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Q8Block Load(byte* q)
        {
            Q8Block w;
            w._v0 = Vector128.Load((sbyte*)q);
            w._v1 = Vector128.Load((sbyte*)q + 16);
            w._v2 = Vector128.Load((sbyte*)q + 32);
            w._v3 = Vector128.Load((sbyte*)q + 48);
            w._v4 = Vector128.Load((sbyte*)q + 64);
            w._v5 = Vector128.Load((sbyte*)q + 80);
            w._v6 = Vector128.Load((sbyte*)q + 96);
            w._v7 = Vector128.Load((sbyte*)q + 112);
            return w;
        }

        /// <summary>Against the block's 32 activations (X8).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Vector128<int> Sum<TDot>(in PackedActivations.Token x, int b) where TDot : struct, IByteDot128
        {
            return Eight<TDot>(_v0, _v1, _v2, _v3, Vector128.Load(x.X8 + b * 32), _v4, _v5, _v6, _v7, Vector128.Load(x.X8 + b * 32 + 16));
        }

        public static float Dx(in PackedActivations.Token x, int b) => x.D[b];

        public static float PlainRow<TDot>(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x) where TDot : struct, IByteDot128 =>
            PackedDot.Q8Lanes128<TDot>(ws, (sbyte*)wq, blocks, x);
    }

    /// <summary>acc + float(block b's sum) · (four rows' scales · d_x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Step<TBlock, TDot>(Vector128<float> acc, in TBlock w, Vector128<float> dw, in PackedActivations.Token x, int b)
        where TBlock : struct, IQuadBlock<TBlock> where TDot : struct, IByteDot128 =>
        TDot.MultiplyAdd(acc, Vector128.ConvertToSingle(w.Sum<TDot>(x, b)), dw * Vector128.Create(TBlock.Dx(x, b)));

    /// <summary>Rows r…r+3 (a group of <see cref="PackedMatrix.Quads"/>: scales <paramref name="ws"/>, quants <paramref name="wq"/>) · one token: y[0..3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void X1<TBlock, TDot>(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x, float* y)
        where TBlock : struct, IQuadBlock<TBlock> where TDot : struct, IByteDot128
    {
        Vector128<float> e = default, o = default;
        int b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            e = Step<TBlock, TDot>(e, TBlock.Load(wq + b * TBlock.Bytes), PackedDot.Half4(ws + b * 4), x, b);
            o = Step<TBlock, TDot>(o, TBlock.Load(wq + (b + 1) * TBlock.Bytes), PackedDot.Half4(ws + b * 4 + 4), x, b + 1);
        }
        if (b < blocks) e = Step<TBlock, TDot>(e, TBlock.Load(wq + b * TBlock.Bytes), PackedDot.Half4(ws + b * 4), x, b);
        (e + o).Store(y);
    }

    /// <summary>Rows r…r+3 · tokens t…t+3: y[j·stride + i] for token t + j, row r + i (each block unpacked once for the four tokens).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void X4<TBlock, TDot>(ushort* ws, byte* wq, int blocks, PackedActivations acts, int t, float* y, long stride)
        where TBlock : struct, IQuadBlock<TBlock> where TDot : struct, IByteDot128
    {
        var x0 = acts.For(t);
        var x1 = acts.For(t + 1);
        var x2 = acts.For(t + 2);
        var x3 = acts.For(t + 3);
        Vector128<float> e0 = default, e1 = default, e2 = default, e3 = default, o0 = default, o1 = default, o2 = default, o3 = default;
        int b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            var w = TBlock.Load(wq + b * TBlock.Bytes);
            var dw = PackedDot.Half4(ws + b * 4);
            e0 = Step<TBlock, TDot>(e0, w, dw, x0, b);
            e1 = Step<TBlock, TDot>(e1, w, dw, x1, b);
            e2 = Step<TBlock, TDot>(e2, w, dw, x2, b);
            e3 = Step<TBlock, TDot>(e3, w, dw, x3, b);
            w = TBlock.Load(wq + (b + 1) * TBlock.Bytes);
            dw = PackedDot.Half4(ws + b * 4 + 4);
            o0 = Step<TBlock, TDot>(o0, w, dw, x0, b + 1);
            o1 = Step<TBlock, TDot>(o1, w, dw, x1, b + 1);
            o2 = Step<TBlock, TDot>(o2, w, dw, x2, b + 1);
            o3 = Step<TBlock, TDot>(o3, w, dw, x3, b + 1);
        }
        if (b < blocks)
        {
            var w = TBlock.Load(wq + b * TBlock.Bytes);
            var dw = PackedDot.Half4(ws + b * 4);
            e0 = Step<TBlock, TDot>(e0, w, dw, x0, b);
            e1 = Step<TBlock, TDot>(e1, w, dw, x1, b);
            e2 = Step<TBlock, TDot>(e2, w, dw, x2, b);
            e3 = Step<TBlock, TDot>(e3, w, dw, x3, b);
        }
        (e0 + o0).Store(y);
        (e1 + o1).Store(y + stride);
        (e2 + o2).Store(y + 2 * stride);
        (e3 + o3).Store(y + 3 * stride);
    }
}
