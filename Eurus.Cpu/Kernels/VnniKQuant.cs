using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Q4_K and Q6_K dot products with AVX-VNNI. Q4_K: on <see cref="Q4KPacked"/> rows and the VNNI form of <see cref="KQuantActivations"/>:
/// per super-block eight <c>VPDPBUSD</c> leave int32 lane j holding sub-block j's exact Σ q·x (unsigned nibbles ×
/// signed activations), which is then scaled in float by the row's d·sc_j and the token's scale, and the mins are
/// removed with the row's dmin·m_j times the token's scale × 32-element sums:
/// acc += float(Σq·x)_j · d·sc_j · dx − dmin·m_j · dx·Σx_j. Per (row, token) the row kernel and the tile do the same
/// operations in the same order, so batched prompts equal decoding bit for bit. Q6_K: on <see cref="Q6KPacked"/> rows
/// (bytes 0–63), two groups of eight 16-element sub-blocks per super-block, each group's sums starting from −32·Σx of
/// its sub-blocks, multiplied by the sub-block scales as integers (llama.cpp's order) and then by d·dx in float. Runs where <see cref="VnniDot.Supported"/>.
/// </summary>
internal static unsafe class VnniKQuant
{
    /// <summary>A super-block's d·sc_j and dmin·m_j as eight floats each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Sc, Vector256<float> Min) RowScales(ushort* halves, byte* scMin)
    {
        var sm = Vector128.Load(scMin);
        var sc = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(sm));
        var mn = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(Sse2.ShiftRightLogical128BitLane(sm, 8)));
        return (sc * Vector256.Create(HalfTable.ToSingle(halves[0])), mn * Vector256.Create(HalfTable.ToSingle(halves[1])));
    }

    /// <summary>acc += float(sum)·sc·dx − min·tokenMin.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<int> sum, Vector256<float> sc, float dx, Vector256<float> min, float* tokenMin, Vector256<float> acc) =>
        Fma.MultiplyAddNegated(min, Vector256.Load(tokenMin), Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), sc * Vector256.Create(dx), acc));

    /// <summary>One row · one token.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4K(Q4KPacked w, int row, KQuantActivations acts, int token)
    {
        int blocks = w.SuperBlocks, tokens = acts.Tokens;
        byte* q = w.RowQs(row), sm = w.RowScMin(row);
        ushort* h = w.RowHalves(row);
        sbyte* v = acts.XV(token);
        long vs = acts.XVStride;
        float* dx = acts.D(token), mins = acts.Min(token);
        var mask = Vector256.Create((byte)0x0F);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, q += 128, sm += 16, h += 2, v += vs, dx += tokens, mins += 8 * tokens)
        {
            Sse.Prefetch0(q + 2048);
            var (sc, mn) = RowScales(h, sm);
            acc = Scale(VnniDot.Nibbles(q, v, Vector256<int>.Zero, mask), sc, *dx, mn, mins, acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>
    /// Rows <paramref name="row"/> and row + 1 × tokens t0…t0+3: y[t·stride + r]. The four tokens' activations, scales
    /// and sums are reached from one pointer each at constant offsets (the block-major <see cref="KQuantActivations"/>),
    /// which keeps the loop's general registers free and its loads simple (measured: a third faster than one pointer
    /// per token).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4KTile2x4(Q4KPacked w, int row, KQuantActivations acts, int t0, float* y, long stride)
    {
        int blocks = w.SuperBlocks, tokens = acts.Tokens;
        byte* qA = w.RowQs(row), qB = w.RowQs(row + 1), smA = w.RowScMin(row), smB = w.RowScMin(row + 1);
        ushort* hA = w.RowHalves(row), hB = w.RowHalves(row + 1);
        sbyte* v = acts.XV(t0);
        long vs = acts.XVStride;
        float* d = acts.D(t0), m = acts.Min(t0);
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, c0 = default, c1 = default, c2 = default, c3 = default;
        for (int b = 0; b < blocks; b++, qA += 128, qB += 128, smA += 16, smB += 16, hA += 2, hB += 2, v += vs, d += tokens, m += 8 * tokens)
        {
            Sse.Prefetch0(qA + 2048);
            Sse.Prefetch0(qB + 2048);
            Vector256<int> sa0 = default, sa1 = default, sa2 = default, sa3 = default, sc0 = default, sc1 = default, sc2 = default, sc3 = default;
            for (int k = 0; k < 4; k++)
            {
                var pA = Vector256.Load(qA + k * 32);
                var pB = Vector256.Load(qB + k * 32);
                var lA = pA & mask;
                var lB = pB & mask;
                sbyte* x = v + k * 32; // token i's vector k at x + 256·i, its high-nibble partner 128 bytes on
                sa0 = VnniDot.Dp(sa0, lA, x); sc0 = VnniDot.Dp(sc0, lB, x);
                sa1 = VnniDot.Dp(sa1, lA, x + 256); sc1 = VnniDot.Dp(sc1, lB, x + 256);
                sa2 = VnniDot.Dp(sa2, lA, x + 512); sc2 = VnniDot.Dp(sc2, lB, x + 512);
                sa3 = VnniDot.Dp(sa3, lA, x + 768); sc3 = VnniDot.Dp(sc3, lB, x + 768);
                var hiA = VnniDot.High(pA, mask);
                var hiB = VnniDot.High(pB, mask);
                sa0 = VnniDot.Dp(sa0, hiA, x + 128); sc0 = VnniDot.Dp(sc0, hiB, x + 128);
                sa1 = VnniDot.Dp(sa1, hiA, x + 384); sc1 = VnniDot.Dp(sc1, hiB, x + 384);
                sa2 = VnniDot.Dp(sa2, hiA, x + 640); sc2 = VnniDot.Dp(sc2, hiB, x + 640);
                sa3 = VnniDot.Dp(sa3, hiA, x + 896); sc3 = VnniDot.Dp(sc3, hiB, x + 896);
            }
            var (scA, mnA) = RowScales(hA, smA);
            var (scB, mnB) = RowScales(hB, smB);
            a0 = Scale(sa0, scA, d[0], mnA, m, a0); c0 = Scale(sc0, scB, d[0], mnB, m, c0);
            a1 = Scale(sa1, scA, d[1], mnA, m + 8, a1); c1 = Scale(sc1, scB, d[1], mnB, m + 8, c1);
            a2 = Scale(sa2, scA, d[2], mnA, m + 16, a2); c2 = Scale(sc2, scB, d[2], mnB, m + 16, c2);
            a3 = Scale(sa3, scA, d[3], mnA, m + 24, a3); c3 = Scale(sc3, scB, d[3], mnB, m + 24, c3);
        }
        y[0] = Vector256.Sum(a0);
        y[stride] = Vector256.Sum(a1);
        y[2 * stride] = Vector256.Sum(a2);
        y[3 * stride] = Vector256.Sum(a3);
        y[1] = Vector256.Sum(c0);
        y[stride + 1] = Vector256.Sum(c1);
        y[2 * stride + 1] = Vector256.Sum(c2);
        y[3 * stride + 1] = Vector256.Sum(c3);
    }

    // ---------------------------------------------------------------- Q6_K

    /// <summary>One Q6_K row · one token.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6K(Q6KPacked w, int row, KQuantActivations acts, int token)
    {
        int blocks = w.SuperBlocks, tokens = acts.Tokens;
        byte* wq = w.RowQs(row);
        sbyte* sc = w.RowScales(row);
        ushort* wd = w.RowD(row);
        sbyte* v = acts.XV16(token);
        long vs = acts.XVStride;
        int* start = acts.Start6(token);
        float* dx = acts.D(token);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, v += vs, start += 16 * tokens, dx += tokens)
        {
            byte* q = wq + b * 256;
            Sse.Prefetch0(q + 4096);
            Sse.Prefetch0(q + 4096 + 64);
            Sse.Prefetch0(q + 4096 + 128);
            Sse.Prefetch0(q + 4096 + 192);
            var sA = Vector256.Load(start);
            var sB = Vector256.Load(start + 8);
            sA = VnniDot.Dp(sA, Vector256.Load(q), v);
            sB = VnniDot.Dp(sB, Vector256.Load(q + 128), v + 128);
            sA = VnniDot.Dp(sA, Vector256.Load(q + 32), v + 32);
            sB = VnniDot.Dp(sB, Vector256.Load(q + 160), v + 160);
            sA = VnniDot.Dp(sA, Vector256.Load(q + 64), v + 64);
            sB = VnniDot.Dp(sB, Vector256.Load(q + 192), v + 192);
            sA = VnniDot.Dp(sA, Vector256.Load(q + 96), v + 96);
            sB = VnniDot.Dp(sB, Vector256.Load(q + 224), v + 224);
            // As llama.cpp: the integer Σ sc_i·(Σ q·x)_i, then × d·dx in float.
            var isum = Avx2.MultiplyLow(sA, Avx2.ConvertToVector256Int32(sc + b * 16)) + Avx2.MultiplyLow(sB, Avx2.ConvertToVector256Int32(sc + b * 16 + 8));
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(isum), Vector256.Create(HalfTable.ToSingle(wd[b]) * *dx), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Q6_K rows <paramref name="row"/> and row + 1 × tokens t0…t0+3: y[t·stride + r].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6KTile2x4(Q6KPacked w, int row, KQuantActivations acts, int t0, float* y, long stride)
    {
        int blocks = w.SuperBlocks, tokens = acts.Tokens;
        byte* qA0 = w.RowQs(row), qB0 = w.RowQs(row + 1);
        sbyte* scA0 = w.RowScales(row), scB0 = w.RowScales(row + 1);
        ushort* dA0 = w.RowD(row), dB0 = w.RowD(row + 1);
        sbyte* v = acts.XV16(t0);
        long vs = acts.XVStride;
        int* st = acts.Start6(t0);
        float* d = acts.D(t0);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, c0 = default, c1 = default, c2 = default, c3 = default;
        for (int b = 0; b < blocks; b++, v += vs, st += 16 * tokens, d += tokens)
        {
            byte* qA = qA0 + b * 256, qB = qB0 + b * 256;
            float dA = HalfTable.ToSingle(dA0[b]), dB = HalfTable.ToSingle(dB0[b]);
            // Integer Σ sc_i·(Σ q·x)_i over both groups of eight sub-blocks, then × d·dx in float (as llama.cpp).
            Vector256<int> ta0 = default, ta1 = default, ta2 = default, ta3 = default, tc0 = default, tc1 = default, tc2 = default, tc3 = default;
            for (int g = 0; g < 2; g++)
            {
                int so = g * 8;
                Vector256<int> sa0 = Vector256.Load(st + so), sa1 = Vector256.Load(st + 16 + so), sa2 = Vector256.Load(st + 32 + so), sa3 = Vector256.Load(st + 48 + so);
                Vector256<int> sc0 = sa0, sc1 = sa1, sc2 = sa2, sc3 = sa3;
                for (int k = 0; k < 4; k++)
                {
                    int off = g * 128 + k * 32;
                    if ((k & 1) == 0)
                    {
                        Sse.Prefetch0(qA + off + 4096);
                        Sse.Prefetch0(qB + off + 4096);
                    }
                    var wA = Vector256.Load(qA + off);
                    var wB = Vector256.Load(qB + off);
                    sbyte* x = v + off; // token i's vector at x + 256·i
                    sa0 = VnniDot.Dp(sa0, wA, x); sc0 = VnniDot.Dp(sc0, wB, x);
                    sa1 = VnniDot.Dp(sa1, wA, x + 256); sc1 = VnniDot.Dp(sc1, wB, x + 256);
                    sa2 = VnniDot.Dp(sa2, wA, x + 512); sc2 = VnniDot.Dp(sc2, wB, x + 512);
                    sa3 = VnniDot.Dp(sa3, wA, x + 768); sc3 = VnniDot.Dp(sc3, wB, x + 768);
                }
                var rA = Avx2.ConvertToVector256Int32(scA0 + b * 16 + so);
                var rB = Avx2.ConvertToVector256Int32(scB0 + b * 16 + so);
                ta0 += Avx2.MultiplyLow(sa0, rA); tc0 += Avx2.MultiplyLow(sc0, rB);
                ta1 += Avx2.MultiplyLow(sa1, rA); tc1 += Avx2.MultiplyLow(sc1, rB);
                ta2 += Avx2.MultiplyLow(sa2, rA); tc2 += Avx2.MultiplyLow(sc2, rB);
                ta3 += Avx2.MultiplyLow(sa3, rA); tc3 += Avx2.MultiplyLow(sc3, rB);
            }
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ta0), Vector256.Create(dA * d[0]), a0);
            c0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(tc0), Vector256.Create(dB * d[0]), c0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ta1), Vector256.Create(dA * d[1]), a1);
            c1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(tc1), Vector256.Create(dB * d[1]), c1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ta2), Vector256.Create(dA * d[2]), a2);
            c2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(tc2), Vector256.Create(dB * d[2]), c2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ta3), Vector256.Create(dA * d[3]), a3);
            c3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(tc3), Vector256.Create(dB * d[3]), c3);
        }
        y[0] = Vector256.Sum(a0);
        y[stride] = Vector256.Sum(a1);
        y[2 * stride] = Vector256.Sum(a2);
        y[3 * stride] = Vector256.Sum(a3);
        y[1] = Vector256.Sum(c0);
        y[stride + 1] = Vector256.Sum(c1);
        y[2 * stride + 1] = Vector256.Sum(c2);
        y[3 * stride + 1] = Vector256.Sum(c3);
    }
}
