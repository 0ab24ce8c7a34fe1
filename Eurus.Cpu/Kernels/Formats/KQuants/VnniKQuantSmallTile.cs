using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Two rows × two tokens over the K-quant VNNI repacks: <see cref="VnniKQuant.QmKTile2x4"/> and
/// <see cref="VnniKQuant.Q6KTile2x4"/> for the two or three tokens that a speculative draft, a small batch of sequences
/// or a chunk's remainder leaves (each weight vector loaded and unpacked once for both tokens, instead of once per token
/// by the row kernel). Per token the same integer sums and the same float steps in the same order as the row kernels
/// (<see cref="VnniKQuant.QmK"/>, <see cref="VnniKQuant.Q6K"/>), so they equal them bit for bit.
/// </summary>
internal static unsafe class VnniKQuantSmallTile
{
    /// <summary>Q4_K/Q5_K rows <paramref name="row"/>, row + 1 × tokens t0, t0 + 1 (scales from <see cref="VnniKQuant.QmKScales"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QmK2x2<TBits, TDot>(QmKPacked w, int row, float* fA, float* fB, KQuantActivations acts, int t0, float* y, long stride)
        where TBits : struct, IQuantBits where TDot : struct, IByteDot
    {
        int blocks = w.SuperBlocks, tokens = acts.Tokens;
        byte* qA = w.RowQs(row), qB = w.RowQs(row + 1), hA = w.RowQh(row), hB = w.RowQh(row + 1);
        sbyte* v = acts.XV(t0);
        long vs = acts.XVStride;
        float* d = acts.D(t0), m = acts.Min(t0);
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> a0 = default, a1 = default, c0 = default, c1 = default;
        for (int b = 0; b < blocks; b++, qA += 128, qB += 128, hA += 32, hB += 32, fA += VnniKQuant.ScaleFloats, fB += VnniKQuant.ScaleFloats, v += vs, d += tokens, m += 8 * tokens)
        {
            Vector256<int> sa0 = default, sa1 = default, sc0 = default, sc1 = default;
            var xA = typeof(TBits) == typeof(FiveBits) ? Vector256.Load(hA) : default;
            var xB = typeof(TBits) == typeof(FiveBits) ? Vector256.Load(hB) : default;
            QmKStep<TBits, TDot>(qA, qB, xA, xB, v, mask, 0, 4, ref sa0, ref sa1, ref sc0, ref sc1);
            QmKStep<TBits, TDot>(qA, qB, xA, xB, v, mask, 1, 5, ref sa0, ref sa1, ref sc0, ref sc1);
            QmKStep<TBits, TDot>(qA, qB, xA, xB, v, mask, 2, 6, ref sa0, ref sa1, ref sc0, ref sc1);
            QmKStep<TBits, TDot>(qA, qB, xA, xB, v, mask, 3, 7, ref sa0, ref sa1, ref sc0, ref sc1);
            Vector256<float> scA = Vector256.Load(fA), mnA = Vector256.Load(fA + 8), scB = Vector256.Load(fB), mnB = Vector256.Load(fB + 8);
            a0 = Scale(sa0, scA, d[0], mnA, m, a0); c0 = Scale(sc0, scB, d[0], mnB, m, c0);
            a1 = Scale(sa1, scA, d[1], mnA, m + 8, a1); c1 = Scale(sc1, scB, d[1], mnB, m + 8, c1);
        }
        y[0] = Vector256.Sum(a0);
        y[stride] = Vector256.Sum(a1);
        y[1] = Vector256.Sum(c0);
        y[stride + 1] = Vector256.Sum(c1);
    }

    /// <summary>
    /// Packed vector <paramref name="k"/> of both rows: its low nibbles (kernel vector k) × each token's bytes at
    /// v + 32k (+ 256 for the second token), its high nibbles (kernel vector <paramref name="kHigh"/> = k + 4) × those 128 bytes on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QmKStep<TBits, TDot>(byte* qA, byte* qB, Vector256<byte> xA, Vector256<byte> xB, sbyte* v, Vector256<byte> mask,
        [ConstantExpected(Min = 0, Max = 3)] int k, [ConstantExpected(Min = 4, Max = 7)] int kHigh, ref Vector256<int> sa0, ref Vector256<int> sa1, ref Vector256<int> sc0, ref Vector256<int> sc1)
        where TBits : struct, IQuantBits where TDot : struct, IByteDot
    {
        var pA = Vector256.Load(qA + 32 * k);
        var pB = Vector256.Load(qB + 32 * k);
        var wA = VnniKQuant.WithFifth<TBits>(pA & mask, xA, k);
        var wB = VnniKQuant.WithFifth<TBits>(pB & mask, xB, k);
        int o = 32 * k;
        sa0 = TDot.Dp(sa0, wA, v + o); sc0 = TDot.Dp(sc0, wB, v + o);
        sa1 = TDot.Dp(sa1, wA, v + 256 + o); sc1 = TDot.Dp(sc1, wB, v + 256 + o);
        wA = VnniKQuant.WithFifth<TBits>(VnniDot.High(pA, mask), xA, kHigh);
        wB = VnniKQuant.WithFifth<TBits>(VnniDot.High(pB, mask), xB, kHigh);
        sa0 = TDot.Dp(sa0, wA, v + 128 + o); sc0 = TDot.Dp(sc0, wB, v + 128 + o);
        sa1 = TDot.Dp(sa1, wA, v + 384 + o); sc1 = TDot.Dp(sc1, wB, v + 384 + o);
    }

    /// <summary>acc += float(sum)·sc·dx − min·tokenMin (<see cref="VnniKQuant"/>'s step, the same operations).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<int> sum, Vector256<float> sc, float dx, Vector256<float> min, float* tokenMin, Vector256<float> acc) =>
        Fma.MultiplyAddNegated(min, Vector256.Load(tokenMin), Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), sc * Vector256.Create(dx), acc));

    /// <summary>Q6_K rows <paramref name="row"/>, row + 1 × tokens t0, t0 + 1 (scales from <see cref="VnniKQuant.Q6KScales"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6K2x2<TDot>(Q6KPacked w, int row, float* fA, float* fB, KQuantActivations acts, int t0, float* y, long stride)
        where TDot : struct, IByteDot
    {
        int blocks = w.SuperBlocks, tokens = acts.Tokens;
        byte* qA = w.RowQs(row), qB = w.RowQs(row + 1);
        sbyte* v = acts.XV16(t0);
        long vs = acts.XVStride;
        int* st = acts.Start6(t0);
        float* d = acts.D(t0);
        Vector256<float> a0 = default, a1 = default, c0 = default, c1 = default;
        for (int b = 0; b < blocks; b++, qA += 256, qB += 256, fA += VnniKQuant.ScaleFloats, fB += VnniKQuant.ScaleFloats, v += vs, st += 16 * tokens, d += tokens)
        {
            // Group g of token i starts at −32 × Σx of its sub-blocks (st + 16i + 8g); its vector k is at v + 128g + 32k + 256i.
            Q6KGroup<TDot>(qA, qB, v, st, 0, out var sa0, out var sa1, out var sc0, out var sc1);
            Vector256<float> fA0 = Vector256.Load(fA), fA1 = Vector256.Load(fA + 8), fB0 = Vector256.Load(fB), fB1 = Vector256.Load(fB + 8);
            var ta0 = Avx.ConvertToVector256Single(sa0) * fA0;
            var tc0 = Avx.ConvertToVector256Single(sc0) * fB0;
            var ta1 = Avx.ConvertToVector256Single(sa1) * fA0;
            var tc1 = Avx.ConvertToVector256Single(sc1) * fB0;
            Q6KGroup<TDot>(qA, qB, v, st, 1, out sa0, out sa1, out sc0, out sc1);
            ta0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sa0), fA1, ta0);
            tc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sc0), fB1, tc0);
            ta1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sa1), fA1, ta1);
            tc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sc1), fB1, tc1);
            a0 = Fma.MultiplyAdd(ta0, Vector256.Create(d[0]), a0); c0 = Fma.MultiplyAdd(tc0, Vector256.Create(d[0]), c0);
            a1 = Fma.MultiplyAdd(ta1, Vector256.Create(d[1]), a1); c1 = Fma.MultiplyAdd(tc1, Vector256.Create(d[1]), c1);
        }
        y[0] = Vector256.Sum(a0);
        y[stride] = Vector256.Sum(a1);
        y[1] = Vector256.Sum(c0);
        y[stride + 1] = Vector256.Sum(c1);
    }

    /// <summary>The integer sums of group <paramref name="g"/> (sub-blocks 8g…8g+7) for both rows and both tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Q6KGroup<TDot>(byte* qA, byte* qB, sbyte* v, int* st, int g,
        out Vector256<int> sa0, out Vector256<int> sa1, out Vector256<int> sc0, out Vector256<int> sc1) where TDot : struct, IByteDot
    {
        sa0 = Vector256.Load(st + 8 * g);
        sa1 = Vector256.Load(st + 16 + 8 * g);
        sc0 = sa0;
        sc1 = sa1;
        for (int k = 0; k < 4; k++)
        {
            int o = 128 * g + 32 * k;
            var wA = Vector256.Load(qA + o);
            var wB = Vector256.Load(qB + o);
            sa0 = TDot.Dp(sa0, wA, v + o); sc0 = TDot.Dp(sc0, wB, v + o);
            sa1 = TDot.Dp(sa1, wA, v + 256 + o); sc1 = TDot.Dp(sc1, wB, v + 256 + o);
        }
    }
}
