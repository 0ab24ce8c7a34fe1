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
        int blocks = w.SuperBlocks;
        byte* wq = w.RowQs(row), sm = w.RowScMin(row);
        ushort* h = w.RowHalves(row);
        sbyte* xv = acts.XV(token);
        float* dx = acts.D(token), mins = acts.Min(token);
        var mask = Vector256.Create((byte)0x0F);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = wq + b * 128;
            sbyte* v = xv + b * 256;
            Sse.Prefetch0(q + 2048);
            var (sc, mn) = RowScales(h + 2 * b, sm + 16 * b);
            acc = Scale(VnniDot.Nibbles(q, v, Vector256<int>.Zero, mask), sc, dx[b], mn, mins + 8 * b, acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Rows <paramref name="row"/> and row + 1 × tokens t0…t0+3: y[t·stride + r].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4KTile2x4(Q4KPacked w, int row, KQuantActivations acts, int t0, float* y, long stride)
    {
        int blocks = w.SuperBlocks;
        byte* qA0 = w.RowQs(row), qB0 = w.RowQs(row + 1), smA = w.RowScMin(row), smB = w.RowScMin(row + 1);
        ushort* hA = w.RowHalves(row), hB = w.RowHalves(row + 1);
        sbyte* v0 = acts.XV(t0), v1 = acts.XV(t0 + 1), v2 = acts.XV(t0 + 2), v3 = acts.XV(t0 + 3);
        float* d0 = acts.D(t0), d1 = acts.D(t0 + 1), d2 = acts.D(t0 + 2), d3 = acts.D(t0 + 3);
        float* m0 = acts.Min(t0), m1 = acts.Min(t0 + 1), m2 = acts.Min(t0 + 2), m3 = acts.Min(t0 + 3);
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, c0 = default, c1 = default, c2 = default, c3 = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* qA = qA0 + b * 128, qB = qB0 + b * 128;
            Sse.Prefetch0(qA + 2048);
            Sse.Prefetch0(qB + 2048);
            Vector256<int> sa0 = default, sa1 = default, sa2 = default, sa3 = default, sc0 = default, sc1 = default, sc2 = default, sc3 = default;
            int o = b * 256;
            for (int k = 0; k < 4; k++)
            {
                var pA = Vector256.Load(qA + k * 32);
                var pB = Vector256.Load(qB + k * 32);
                var lA = pA & mask;
                var lB = pB & mask;
                int ol = o + k * 32;
                sa0 = VnniDot.Dp(sa0, lA, v0 + ol); sc0 = VnniDot.Dp(sc0, lB, v0 + ol);
                sa1 = VnniDot.Dp(sa1, lA, v1 + ol); sc1 = VnniDot.Dp(sc1, lB, v1 + ol);
                sa2 = VnniDot.Dp(sa2, lA, v2 + ol); sc2 = VnniDot.Dp(sc2, lB, v2 + ol);
                sa3 = VnniDot.Dp(sa3, lA, v3 + ol); sc3 = VnniDot.Dp(sc3, lB, v3 + ol);
                var hiA = VnniDot.High(pA, mask);
                var hiB = VnniDot.High(pB, mask);
                int oh = ol + 128;
                sa0 = VnniDot.Dp(sa0, hiA, v0 + oh); sc0 = VnniDot.Dp(sc0, hiB, v0 + oh);
                sa1 = VnniDot.Dp(sa1, hiA, v1 + oh); sc1 = VnniDot.Dp(sc1, hiB, v1 + oh);
                sa2 = VnniDot.Dp(sa2, hiA, v2 + oh); sc2 = VnniDot.Dp(sc2, hiB, v2 + oh);
                sa3 = VnniDot.Dp(sa3, hiA, v3 + oh); sc3 = VnniDot.Dp(sc3, hiB, v3 + oh);
            }
            var (scA, mnA) = RowScales(hA + 2 * b, smA + 16 * b);
            var (scB, mnB) = RowScales(hB + 2 * b, smB + 16 * b);
            int mb = 8 * b;
            a0 = Scale(sa0, scA, d0[b], mnA, m0 + mb, a0); c0 = Scale(sc0, scB, d0[b], mnB, m0 + mb, c0);
            a1 = Scale(sa1, scA, d1[b], mnA, m1 + mb, a1); c1 = Scale(sc1, scB, d1[b], mnB, m1 + mb, c1);
            a2 = Scale(sa2, scA, d2[b], mnA, m2 + mb, a2); c2 = Scale(sc2, scB, d2[b], mnB, m2 + mb, c2);
            a3 = Scale(sa3, scA, d3[b], mnA, m3 + mb, a3); c3 = Scale(sc3, scB, d3[b], mnB, m3 + mb, c3);
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
        int blocks = w.SuperBlocks;
        byte* wq = w.RowQs(row);
        sbyte* sc = w.RowScales(row);
        ushort* wd = w.RowD(row);
        sbyte* xv = acts.XV16(token);
        int* start = acts.Start6(token);
        float* dx = acts.D(token);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = wq + b * 256;
            sbyte* v = xv + b * 256;
            Sse.Prefetch0(q + 4096);
            Sse.Prefetch0(q + 4096 + 64);
            Sse.Prefetch0(q + 4096 + 128);
            Sse.Prefetch0(q + 4096 + 192);
            var sA = Vector256.Load(start + b * 16);
            var sB = Vector256.Load(start + b * 16 + 8);
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
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(isum), Vector256.Create(HalfTable.ToSingle(wd[b]) * dx[b]), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>Q6_K rows <paramref name="row"/> and row + 1 × tokens t0…t0+3: y[t·stride + r].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6KTile2x4(Q6KPacked w, int row, KQuantActivations acts, int t0, float* y, long stride)
    {
        int blocks = w.SuperBlocks;
        byte* qA0 = w.RowQs(row), qB0 = w.RowQs(row + 1);
        sbyte* scA0 = w.RowScales(row), scB0 = w.RowScales(row + 1);
        ushort* dA0 = w.RowD(row), dB0 = w.RowD(row + 1);
        sbyte* v0 = acts.XV16(t0), v1 = acts.XV16(t0 + 1), v2 = acts.XV16(t0 + 2), v3 = acts.XV16(t0 + 3);
        int* st0 = acts.Start6(t0), st1 = acts.Start6(t0 + 1), st2 = acts.Start6(t0 + 2), st3 = acts.Start6(t0 + 3);
        float* d0 = acts.D(t0), d1 = acts.D(t0 + 1), d2 = acts.D(t0 + 2), d3 = acts.D(t0 + 3);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, c0 = default, c1 = default, c2 = default, c3 = default;
        for (int b = 0; b < blocks; b++)
        {
            byte* qA = qA0 + b * 256, qB = qB0 + b * 256;
            float dA = HalfTable.ToSingle(dA0[b]), dB = HalfTable.ToSingle(dB0[b]);
            // Integer Σ sc_i·(Σ q·x)_i over both groups of eight sub-blocks, then × d·dx in float (as llama.cpp).
            Vector256<int> ta0 = default, ta1 = default, ta2 = default, ta3 = default, tc0 = default, tc1 = default, tc2 = default, tc3 = default;
            for (int g = 0; g < 2; g++)
            {
                int o = b * 256 + g * 128, so = b * 16 + g * 8;
                Vector256<int> sa0 = Vector256.Load(st0 + so), sa1 = Vector256.Load(st1 + so), sa2 = Vector256.Load(st2 + so), sa3 = Vector256.Load(st3 + so);
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
                    int ok = o + k * 32;
                    sa0 = VnniDot.Dp(sa0, wA, v0 + ok); sc0 = VnniDot.Dp(sc0, wB, v0 + ok);
                    sa1 = VnniDot.Dp(sa1, wA, v1 + ok); sc1 = VnniDot.Dp(sc1, wB, v1 + ok);
                    sa2 = VnniDot.Dp(sa2, wA, v2 + ok); sc2 = VnniDot.Dp(sc2, wB, v2 + ok);
                    sa3 = VnniDot.Dp(sa3, wA, v3 + ok); sc3 = VnniDot.Dp(sc3, wB, v3 + ok);
                }
                var rA = Avx2.ConvertToVector256Int32(scA0 + so);
                var rB = Avx2.ConvertToVector256Int32(scB0 + so);
                ta0 += Avx2.MultiplyLow(sa0, rA); tc0 += Avx2.MultiplyLow(sc0, rB);
                ta1 += Avx2.MultiplyLow(sa1, rA); tc1 += Avx2.MultiplyLow(sc1, rB);
                ta2 += Avx2.MultiplyLow(sa2, rA); tc2 += Avx2.MultiplyLow(sc2, rB);
                ta3 += Avx2.MultiplyLow(sa3, rA); tc3 += Avx2.MultiplyLow(sc3, rB);
            }
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ta0), Vector256.Create(dA * d0[b]), a0);
            c0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(tc0), Vector256.Create(dB * d0[b]), c0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ta1), Vector256.Create(dA * d1[b]), a1);
            c1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(tc1), Vector256.Create(dB * d1[b]), c1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ta2), Vector256.Create(dA * d2[b]), a2);
            c2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(tc2), Vector256.Create(dB * d2[b]), c2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ta3), Vector256.Create(dA * d3[b]), a3);
            c3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(tc3), Vector256.Create(dB * d3[b]), c3);
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
