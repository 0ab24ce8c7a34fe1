using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Q6_K four rows at a time over <see cref="Q6KPacked"/>'s row quads (ARM64 with DotProd). A group's super-block holds
/// the file's ql and qh bytes in four-byte groups per row (ql vector v = bytes 4v…4v+3 of each row, v &lt; 32; qh vector
/// u = bytes 4u…4u+3, u &lt; 16): for half h and k &lt; 8, ql vectors A = 16h + k and B = 16h + 8 + k with qh vector
/// H = 8h + k give the quants of elements 128h + 4k + 32s (s = 0…3) as (A &amp; 15) | (H &amp; 3) &lt;&lt; 4,
/// (B &amp; 15) | (H &amp; 12) &lt;&lt; 2, A &gt;&gt; 4 | (H &amp; 48), B &gt;&gt; 4 | (H &gt;&gt; 2 &amp; 48) — the file's
/// own unpacking, four rows per instruction. By-element <c>SDOT</c>s leave each 16-element sub-block's exact Σq·x of
/// the four rows in four lanes; the −32 offset comes from the activations' block sums: the super-block's integer sum
/// is Σ_j sc_j·(s_j − 32·bsum_j), then × d·d_x in float (llama.cpp's order).
/// <para>
/// The four-token tile unpacks each quarter of a super-block (one h, four k) once for its four tokens; per (row, token)
/// it runs the one-token form's operations in the same order, so prompts equal decoding bit for bit.
/// </para>
/// </summary>
internal static unsafe class Q6KQuads
{
    /// <summary>The quants of one quarter (half h, k = 4·kh…4·kh+3) of a group's super-block: Q[s][k] for elements 128h + 32s + 4k.</summary>
    private struct Quarter
    {
        public Vector128<sbyte> Q00, Q01, Q02, Q03, Q10, Q11, Q12, Q13, Q20, Q21, Q22, Q23, Q30, Q31, Q32, Q33;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Quarter Load(byte* q, [ConstantExpected(Min = 0, Max = 1)] int h, [ConstantExpected(Min = 0, Max = 1)] int kh)
        {
            Quarter r;
            Unpack(q, h, 4 * kh, out r.Q00, out r.Q10, out r.Q20, out r.Q30);
            Unpack(q, h, 4 * kh + 1, out r.Q01, out r.Q11, out r.Q21, out r.Q31);
            Unpack(q, h, 4 * kh + 2, out r.Q02, out r.Q12, out r.Q22, out r.Q32);
            Unpack(q, h, 4 * kh + 3, out r.Q03, out r.Q13, out r.Q23, out r.Q33);
            return r;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Unpack(byte* q, int h, int k, out Vector128<sbyte> s0, out Vector128<sbyte> s1, out Vector128<sbyte> s2, out Vector128<sbyte> s3)
        {
            var lo = Vector128.Create((byte)0x0F);
            var top = Vector128.Create((byte)0x30);
            var a = Vector128.Load(q + (16 * h + k) * 16);
            var b = Vector128.Load(q + (16 * h + 8 + k) * 16);
            var hb = Vector128.Load(q + 512 + (8 * h + k) * 16);
            s0 = ((a & lo) | (Vector128.ShiftLeft(hb, 4) & top)).AsSByte();
            s1 = ((b & lo) | (Vector128.ShiftLeft(hb, 2) & top)).AsSByte();
            s2 = (Vector128.ShiftRightLogical(a, 4) | (hb & top)).AsSByte();
            s3 = (Vector128.ShiftRightLogical(b, 4) | (Vector128.ShiftRightLogical(hb, 2) & top)).AsSByte();
        }
    }

    /// <summary>Sub-block j's signed scales of the four rows as int32, from the 16 bytes [j][row] of sub-blocks 4v…4v+3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Four(Vector128<sbyte> v, int j) => j switch
    {
        0 => Vector128.WidenLower(Vector128.WidenLower(v)),
        1 => Vector128.WidenUpper(Vector128.WidenLower(v)),
        2 => Vector128.WidenLower(Vector128.WidenUpper(v)),
        _ => Vector128.WidenUpper(Vector128.WidenUpper(v)),
    };

    /// <summary>
    /// One token's quarter (h, kh): isum += Σ_s sc_j·(s_j − 32·bsum_j) over its four sub-blocks j = 8h + 2s + kh, the
    /// activations <paramref name="a"/> (the token's 256) and block sums <paramref name="bs"/>, the scales at <paramref name="sc"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Add<TDot>(Vector128<int> isum, in Quarter w, sbyte* a, short* bs, sbyte* sc, [ConstantExpected(Min = 0, Max = 1)] int h, [ConstantExpected(Min = 0, Max = 1)] int kh)
        where TDot : struct, IByteDot128
    {
        // Element 128h + 32s + 4k of sub-block j = 8h + 2s + kh is quadruplet k − 4·kh of activation vector j.
        var x0 = Vector128.Load(a + 16 * (8 * h + kh));
        var x1 = Vector128.Load(a + 16 * (8 * h + 2 + kh));
        var x2 = Vector128.Load(a + 16 * (8 * h + 4 + kh));
        var x3 = Vector128.Load(a + 16 * (8 * h + 6 + kh));
        var s0 = TDot.DotQuad(TDot.DotQuad(TDot.DotQuad(TDot.DotQuad(Vector128<int>.Zero, w.Q00, x0, 0), w.Q01, x0, 1), w.Q02, x0, 2), w.Q03, x0, 3);
        var s1 = TDot.DotQuad(TDot.DotQuad(TDot.DotQuad(TDot.DotQuad(Vector128<int>.Zero, w.Q10, x1, 0), w.Q11, x1, 1), w.Q12, x1, 2), w.Q13, x1, 3);
        var s2 = TDot.DotQuad(TDot.DotQuad(TDot.DotQuad(TDot.DotQuad(Vector128<int>.Zero, w.Q20, x2, 0), w.Q21, x2, 1), w.Q22, x2, 2), w.Q23, x2, 3);
        var s3 = TDot.DotQuad(TDot.DotQuad(TDot.DotQuad(TDot.DotQuad(Vector128<int>.Zero, w.Q30, x3, 0), w.Q31, x3, 1), w.Q32, x3, 2), w.Q33, x3, 3);
        // Sub-blocks 8h + kh, 8h + 2 + kh (scale vector 2h), 8h + 4 + kh, 8h + 6 + kh (vector 2h + 1).
        var v0 = Vector128.Load(sc + 32 * h);
        var v1 = Vector128.Load(sc + 32 * h + 16);
        int j = 8 * h + kh;
        isum += Four(v0, kh) * (s0 - Vector128.Create(32 * bs[j]));
        isum += Four(v0, 2 + kh) * (s1 - Vector128.Create(32 * bs[j + 2]));
        isum += Four(v1, kh) * (s2 - Vector128.Create(32 * bs[j + 4]));
        isum += Four(v1, 2 + kh) * (s3 - Vector128.Create(32 * bs[j + 6]));
        return isum;
    }

    /// <summary>Rows r…r+3 (a group of <see cref="Q6KPacked.Quads"/>) · one Q8_K token (<paramref name="x"/>: its blocks): y[0..3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void X1<TDot>(Q6KPacked w, int row, byte* x, float* y) where TDot : struct, IByteDot128
    {
        int blocks = w.SuperBlocks;
        byte* q = w.RowQs(row);
        sbyte* sc = w.RowScales(row);
        ushort* d = w.RowD(row);
        var acc = Vector128<float>.Zero;
        for (int b = 0; b < blocks; b++, q += 768, sc += 64, d += 4, x += KQuantDot.Q8Bytes)
        {
            sbyte* a = (sbyte*)(x + KQuantDot.Q8Qs);
            short* bs = (short*)(x + KQuantDot.Q8BSums);
            var isum = Add<TDot>(Vector128<int>.Zero, Quarter.Load(q, 0, 0), a, bs, sc, 0, 0);
            isum = Add<TDot>(isum, Quarter.Load(q, 0, 1), a, bs, sc, 0, 1);
            isum = Add<TDot>(isum, Quarter.Load(q, 1, 0), a, bs, sc, 1, 0);
            isum = Add<TDot>(isum, Quarter.Load(q, 1, 1), a, bs, sc, 1, 1);
            acc = TDot.MultiplyAdd(acc, Vector128.ConvertToSingle(isum), PackedDot.Half4(d) * Vector128.Create(*(float*)x));
        }
        acc.Store(y);
    }

    /// <summary>Rows r…r+3 · tokens t…t+3: y[j·stride + i] for token t + j, row r + i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void X4<TDot>(Q6KPacked w, int row, KQuantActivations acts, int t, float* y, long stride) where TDot : struct, IByteDot128
    {
        int blocks = w.SuperBlocks;
        byte* q = w.RowQs(row);
        sbyte* sc = w.RowScales(row);
        ushort* d = w.RowD(row);
        byte* x0 = acts.For(t);
        long ts = acts.For(t + 1) - x0;
        Vector128<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < blocks; b++, q += 768, sc += 64, d += 4, x0 += KQuantDot.Q8Bytes)
        {
            sbyte* a = (sbyte*)(x0 + KQuantDot.Q8Qs);
            short* bs = (short*)(x0 + KQuantDot.Q8BSums);
            Vector128<int> i0 = default, i1 = default, i2 = default, i3 = default;
            Step(ref i0, ref i1, ref i2, ref i3, Quarter.Load(q, 0, 0), a, bs, ts, sc, 0, 0);
            Step(ref i0, ref i1, ref i2, ref i3, Quarter.Load(q, 0, 1), a, bs, ts, sc, 0, 1);
            Step(ref i0, ref i1, ref i2, ref i3, Quarter.Load(q, 1, 0), a, bs, ts, sc, 1, 0);
            Step(ref i0, ref i1, ref i2, ref i3, Quarter.Load(q, 1, 1), a, bs, ts, sc, 1, 1);
            var dw = PackedDot.Half4(d);
            a0 = TDot.MultiplyAdd(a0, Vector128.ConvertToSingle(i0), dw * Vector128.Create(*(float*)x0));
            a1 = TDot.MultiplyAdd(a1, Vector128.ConvertToSingle(i1), dw * Vector128.Create(*(float*)(x0 + ts)));
            a2 = TDot.MultiplyAdd(a2, Vector128.ConvertToSingle(i2), dw * Vector128.Create(*(float*)(x0 + 2 * ts)));
            a3 = TDot.MultiplyAdd(a3, Vector128.ConvertToSingle(i3), dw * Vector128.Create(*(float*)(x0 + 3 * ts)));
        }
        a0.Store(y);
        a1.Store(y + stride);
        a2.Store(y + 2 * stride);
        a3.Store(y + 3 * stride);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Step(ref Vector128<int> i0, ref Vector128<int> i1, ref Vector128<int> i2, ref Vector128<int> i3, in Quarter w, sbyte* a, short* bs, long ts, sbyte* sc,
            [ConstantExpected(Min = 0, Max = 1)] int h, [ConstantExpected(Min = 0, Max = 1)] int kh)
        {
            i0 = Add<TDot>(i0, w, a, bs, sc, h, kh);
            i1 = Add<TDot>(i1, w, a + ts, (short*)((byte*)bs + ts), sc, h, kh);
            i2 = Add<TDot>(i2, w, a + 2 * ts, (short*)((byte*)bs + 2 * ts), sc, h, kh);
            i3 = Add<TDot>(i3, w, a + 3 * ts, (short*)((byte*)bs + 3 * ts), sc, h, kh);
        }
    }
}
