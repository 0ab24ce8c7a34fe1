using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Eurus.Cpu.Kernels;

/// <summary>Type parameter of the Q4_K/Q5_K kernels: whether the quants have a fifth bit. Each kernel is compiled per type.</summary>
internal interface IQuantBits;

/// <summary>Q4_K: four-bit quants.</summary>
internal struct FourBits : IQuantBits;

/// <summary>Q5_K: four bits plus <see cref="QmKPacked.Qh"/>'s fifth bit.</summary>
internal struct FiveBits : IQuantBits;

/// <summary>
/// Q4_K, Q5_K and Q6_K dot products with AVX-VNNI. Q4_K and Q5_K: on <see cref="QmKPacked"/> rows and the VNNI form of
/// <see cref="KQuantActivations"/>: per super-block eight <c>VPDPBUSD</c> leave int32 lane j holding sub-block j's exact
/// Σ q·x (unsigned quants — nibbles, with Q5_K's fifth bit or-ed in as 16 — × signed activations), which is then scaled
/// in float by the row's d·sc_j and the token's scale, and the mins are removed with the row's dmin·m_j times the
/// token's scale × 32-element sums: acc += float(Σq·x)_j · d·sc_j · dx − dmin·m_j · dx·Σx_j. Per (row, token) the row
/// kernel and the tile do the same operations in the same order, so batched prompts equal decoding bit for bit. Q6_K:
/// on <see cref="Q6KPacked"/> rows (bytes 0–63), two groups of eight 16-element sub-blocks per super-block, each group's
/// exact integer sums starting from −32·Σx of its sub-blocks, then in float (Σ₀·sc₀·d + Σ₁·sc₁·d)·dx per super-block
/// (llama.cpp multiplies the scales as integers; the float form spares the slow <c>VPMULLD</c> and differs only in
/// rounding). Runs where <see cref="VnniDot.Supported"/>.
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

    /// <summary>
    /// Q5_K: bit <paramref name="v"/> of every byte of a fifth-bit plane moved to bit 4 (16 or 0), to be or-ed into the
    /// four low bits of kernel vector v. GFNI: one affine transform whose matrix row for bit 4 selects bit v (the other
    /// rows are zero); otherwise a 16-bit shift and a mask (bit 4 of each byte then comes from its own byte: shifts of
    /// at most four left or three right).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Fifth(Vector256<byte> h, [ConstantExpected(Min = 0, Max = 7)] int v)
    {
        if (Gfni.V256.IsSupported) return Gfni.V256.GaloisFieldAffineTransform(h, Vector256.Create((1UL << v) << 24).AsByte(), 0);
        var shifted = v <= 4 ? Vector256.ShiftLeft(h.AsUInt16(), 4 - v) : Vector256.ShiftRightLogical(h.AsUInt16(), v - 4);
        return shifted.AsByte() & Vector256.Create((byte)0x10);
    }

    /// <summary><paramref name="w"/> with Q5_K's fifth bits for kernel vector <paramref name="v"/> or-ed in; w itself for Q4_K.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> WithFifth<TBits>(Vector256<byte> w, Vector256<byte> h, [ConstantExpected(Min = 0, Max = 7)] int v)
        where TBits : struct, IQuantBits => typeof(TBits) == typeof(FiveBits) ? w | Fifth(h, v) : w;

    /// <summary>One Q4_K (<typeparamref name="TBits"/> = <see cref="FourBits"/>) or Q5_K row · one token.</summary>
    public static float QmK<TBits, TDot>(QmKPacked w, int row, KQuantActivations acts, int token, bool far = false) where TBits : struct, IQuantBits where TDot : struct, IByteDot =>
        far ? QmK<TBits, TDot, FarRows>(w, row, acts, token) : QmK<TBits, TDot, NearRows>(w, row, acts, token);

    /// <summary><see cref="QmK{TBits, TDot}"/> with the prefetch form as a type (<see cref="IRowPrefetch"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float QmK<TBits, TDot, TPrefetch>(QmKPacked w, int row, KQuantActivations acts, int token)
        where TBits : struct, IQuantBits where TDot : struct, IByteDot where TPrefetch : struct, IRowPrefetch
    {
        int blocks = w.SuperBlocks, tokens = acts.Tokens;
        byte* q = w.RowQs(row), qh = w.RowQh(row), sm = w.RowScMin(row);
        ushort* h = w.RowHalves(row);
        sbyte* v = acts.XV(token);
        long vs = acts.XVStride;
        float* dx = acts.D(token), mins = acts.Min(token);
        var mask = Vector256.Create((byte)0x0F);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, q += 128, qh += 32, sm += 16, h += 2, v += vs, dx += tokens, mins += 8 * tokens)
        {
            if (typeof(TDot) == typeof(VnniByteDot)) Sse.Prefetch0(q + 2048);
            else MaddByteDot.PrefetchWeights(q, 2, TPrefetch.Far);
            var (sc, mn) = RowScales(h, sm);
            acc = Scale(VnniDot.Nibbles<TBits, TDot>(q, qh, v, Vector256<int>.Zero, mask), sc, *dx, mn, mins, acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>
    /// Row <paramref name="row"/>'s d·sc_j then dmin·m_j of every super-block as floats (16 per super-block, <see cref="ScaleFloats"/>)
    /// into <paramref name="dst"/>: what <see cref="QmKTile2x4"/> reads, made once per row block and token chunk instead
    /// of once per four-token tile (the same values the row kernel computes in its loop).
    /// </summary>
    public static void QmKScales(QmKPacked w, int row, float* dst)
    {
        byte* sm = w.RowScMin(row);
        ushort* h = w.RowHalves(row);
        for (int b = 0; b < w.SuperBlocks; b++, sm += 16, h += 2, dst += ScaleFloats)
        {
            var (sc, mn) = RowScales(h, sm);
            sc.Store(dst);
            mn.Store(dst + 8);
        }
    }

    /// <summary>Floats per super-block in the scales of <see cref="QmKScales"/> and <see cref="Q6KScales"/>.</summary>
    public const int ScaleFloats = 16;

    /// <summary>
    /// Rows <paramref name="row"/> and row + 1 × tokens t0…t0+3: y[t·stride + r], with the rows' scales from
    /// <see cref="QmKScales"/> at <paramref name="fA"/> and <paramref name="fB"/>. The four tokens' activations, scales
    /// and sums are reached from one pointer each at constant offsets (the block-major <see cref="KQuantActivations"/>),
    /// which keeps the loop's general registers free and its loads simple (measured on one thread: a third faster than
    /// one pointer per token, 4% more for writing the four vectors of a super-block out instead of looping, and 7–12%
    /// more for loading the scales made once per row block and token chunk instead of converting them in every tile). Q5_K or-s each
    /// vector's fifth bits in (<see cref="Fifth"/>) before its multiply-adds; for Q4_K that code is not compiled. Row B reads
    /// the activations through a second pointer (<see cref="Opaque.Same{T}"/>), so each row's multiply-adds take them
    /// from memory operands instead of one shared load per vector: 224 instructions per super-block instead of 256, and
    /// 5–6% faster on Zen 4, 9–10% with AVX-512 off (one thread, 64 tokens, <c>shapes q4_k 1 14336x4096</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QmKTile2x4<TBits, TDot>(QmKPacked w, int row, float* fA, float* fB, KQuantActivations acts, int t0, float* y, long stride)
        where TBits : struct, IQuantBits where TDot : struct, IByteDot
    {
        int blocks = w.SuperBlocks, tokens = acts.Tokens;
        byte* qA = w.RowQs(row), qB = w.RowQs(row + 1), hA = w.RowQh(row), hB = w.RowQh(row + 1);
        sbyte* v = acts.XV(t0);
        sbyte* u = Opaque.Same(v); // row B reads the same activations under its own name: its loads fold into its multiply-adds (see Opaque)
        long vs = acts.XVStride;
        float* d = acts.D(t0), m = acts.Min(t0);
        var mask = Vector256.Create((byte)0x0F);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, c0 = default, c1 = default, c2 = default, c3 = default;
        for (int b = 0; b < blocks; b++, qA += 128, qB += 128, hA += 32, hB += 32, fA += ScaleFloats, fB += ScaleFloats, v += vs, u += vs, d += tokens, m += 8 * tokens)
        {
            Sse.Prefetch0(qA + 2048);
            Sse.Prefetch0(qB + 2048);
            Vector256<int> sa0 = default, sa1 = default, sa2 = default, sa3 = default, sc0 = default, sc1 = default, sc2 = default, sc3 = default;
            Vector256<byte> pA, pB, wA, wB;
            Vector256<byte> xA = typeof(TBits) == typeof(FiveBits) ? Vector256.Load(hA) : default, xB = typeof(TBits) == typeof(FiveBits) ? Vector256.Load(hB) : default;
            // Vector k of each row: low nibbles × token i's bytes at v + 32k + 256i, high nibbles × those 128 bytes on.
            // Written out (no loop over k): the JIT then keeps every pointer in a register and all offsets constant.
            pA = Vector256.Load(qA + 0); pB = Vector256.Load(qB + 0); wA = WithFifth<TBits>(pA & mask, xA, 0); wB = WithFifth<TBits>(pB & mask, xB, 0);
            sa0 = TDot.Pairs(sa0, wA, v + 0); sc0 = TDot.Pairs(sc0, wB, u + 0);
            sa1 = TDot.Pairs(sa1, wA, v + 256); sc1 = TDot.Pairs(sc1, wB, u + 256);
            sa2 = TDot.Pairs(sa2, wA, v + 512); sc2 = TDot.Pairs(sc2, wB, u + 512);
            sa3 = TDot.Pairs(sa3, wA, v + 768); sc3 = TDot.Pairs(sc3, wB, u + 768);
            wA = WithFifth<TBits>(VnniDot.High(pA, mask), xA, 4); wB = WithFifth<TBits>(VnniDot.High(pB, mask), xB, 4);
            sa0 = TDot.Pairs(sa0, wA, v + 128); sc0 = TDot.Pairs(sc0, wB, u + 128);
            sa1 = TDot.Pairs(sa1, wA, v + 384); sc1 = TDot.Pairs(sc1, wB, u + 384);
            sa2 = TDot.Pairs(sa2, wA, v + 640); sc2 = TDot.Pairs(sc2, wB, u + 640);
            sa3 = TDot.Pairs(sa3, wA, v + 896); sc3 = TDot.Pairs(sc3, wB, u + 896);
            pA = Vector256.Load(qA + 32); pB = Vector256.Load(qB + 32); wA = WithFifth<TBits>(pA & mask, xA, 1); wB = WithFifth<TBits>(pB & mask, xB, 1);
            sa0 = TDot.Pairs(sa0, wA, v + 32); sc0 = TDot.Pairs(sc0, wB, u + 32);
            sa1 = TDot.Pairs(sa1, wA, v + 288); sc1 = TDot.Pairs(sc1, wB, u + 288);
            sa2 = TDot.Pairs(sa2, wA, v + 544); sc2 = TDot.Pairs(sc2, wB, u + 544);
            sa3 = TDot.Pairs(sa3, wA, v + 800); sc3 = TDot.Pairs(sc3, wB, u + 800);
            wA = WithFifth<TBits>(VnniDot.High(pA, mask), xA, 5); wB = WithFifth<TBits>(VnniDot.High(pB, mask), xB, 5);
            sa0 = TDot.Pairs(sa0, wA, v + 160); sc0 = TDot.Pairs(sc0, wB, u + 160);
            sa1 = TDot.Pairs(sa1, wA, v + 416); sc1 = TDot.Pairs(sc1, wB, u + 416);
            sa2 = TDot.Pairs(sa2, wA, v + 672); sc2 = TDot.Pairs(sc2, wB, u + 672);
            sa3 = TDot.Pairs(sa3, wA, v + 928); sc3 = TDot.Pairs(sc3, wB, u + 928);
            // Q5_K's weights reach 31: four vectors' pairs fit int16, so the first four are widened here (Q4_K's fit eight).
            Vector256<int> ha0 = default, ha1 = default, ha2 = default, ha3 = default, hc0 = default, hc1 = default, hc2 = default, hc3 = default;
            if (typeof(TBits) == typeof(FiveBits))
            {
                ha0 = TDot.Widen(sa0); ha1 = TDot.Widen(sa1); ha2 = TDot.Widen(sa2); ha3 = TDot.Widen(sa3);
                hc0 = TDot.Widen(sc0); hc1 = TDot.Widen(sc1); hc2 = TDot.Widen(sc2); hc3 = TDot.Widen(sc3);
                sa0 = sa1 = sa2 = sa3 = sc0 = sc1 = sc2 = sc3 = default;
            }
            pA = Vector256.Load(qA + 64); pB = Vector256.Load(qB + 64); wA = WithFifth<TBits>(pA & mask, xA, 2); wB = WithFifth<TBits>(pB & mask, xB, 2);
            sa0 = TDot.Pairs(sa0, wA, v + 64); sc0 = TDot.Pairs(sc0, wB, u + 64);
            sa1 = TDot.Pairs(sa1, wA, v + 320); sc1 = TDot.Pairs(sc1, wB, u + 320);
            sa2 = TDot.Pairs(sa2, wA, v + 576); sc2 = TDot.Pairs(sc2, wB, u + 576);
            sa3 = TDot.Pairs(sa3, wA, v + 832); sc3 = TDot.Pairs(sc3, wB, u + 832);
            wA = WithFifth<TBits>(VnniDot.High(pA, mask), xA, 6); wB = WithFifth<TBits>(VnniDot.High(pB, mask), xB, 6);
            sa0 = TDot.Pairs(sa0, wA, v + 192); sc0 = TDot.Pairs(sc0, wB, u + 192);
            sa1 = TDot.Pairs(sa1, wA, v + 448); sc1 = TDot.Pairs(sc1, wB, u + 448);
            sa2 = TDot.Pairs(sa2, wA, v + 704); sc2 = TDot.Pairs(sc2, wB, u + 704);
            sa3 = TDot.Pairs(sa3, wA, v + 960); sc3 = TDot.Pairs(sc3, wB, u + 960);
            pA = Vector256.Load(qA + 96); pB = Vector256.Load(qB + 96); wA = WithFifth<TBits>(pA & mask, xA, 3); wB = WithFifth<TBits>(pB & mask, xB, 3);
            sa0 = TDot.Pairs(sa0, wA, v + 96); sc0 = TDot.Pairs(sc0, wB, u + 96);
            sa1 = TDot.Pairs(sa1, wA, v + 352); sc1 = TDot.Pairs(sc1, wB, u + 352);
            sa2 = TDot.Pairs(sa2, wA, v + 608); sc2 = TDot.Pairs(sc2, wB, u + 608);
            sa3 = TDot.Pairs(sa3, wA, v + 864); sc3 = TDot.Pairs(sc3, wB, u + 864);
            wA = WithFifth<TBits>(VnniDot.High(pA, mask), xA, 7); wB = WithFifth<TBits>(VnniDot.High(pB, mask), xB, 7);
            sa0 = TDot.Pairs(sa0, wA, v + 224); sc0 = TDot.Pairs(sc0, wB, u + 224);
            sa1 = TDot.Pairs(sa1, wA, v + 480); sc1 = TDot.Pairs(sc1, wB, u + 480);
            sa2 = TDot.Pairs(sa2, wA, v + 736); sc2 = TDot.Pairs(sc2, wB, u + 736);
            sa3 = TDot.Pairs(sa3, wA, v + 992); sc3 = TDot.Pairs(sc3, wB, u + 992);
            Vector256<float> scA = Vector256.Load(fA), mnA = Vector256.Load(fA + 8), scB = Vector256.Load(fB), mnB = Vector256.Load(fB + 8);
            a0 = Scale(ha0 + TDot.Widen(sa0), scA, d[0], mnA, m, a0); c0 = Scale(hc0 + TDot.Widen(sc0), scB, d[0], mnB, m, c0);
            a1 = Scale(ha1 + TDot.Widen(sa1), scA, d[1], mnA, m + 8, a1); c1 = Scale(hc1 + TDot.Widen(sc1), scB, d[1], mnB, m + 8, c1);
            a2 = Scale(ha2 + TDot.Widen(sa2), scA, d[2], mnA, m + 16, a2); c2 = Scale(hc2 + TDot.Widen(sc2), scB, d[2], mnB, m + 16, c2);
            a3 = Scale(ha3 + TDot.Widen(sa3), scA, d[3], mnA, m + 24, a3); c3 = Scale(hc3 + TDot.Widen(sc3), scB, d[3], mnB, m + 24, c3);
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

    /// <summary>A Q6_K super-block's sub-block scales times d as floats: group 0 (sub-blocks 0–7) and group 1 (8–15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> G0, Vector256<float> G1) GroupScales(sbyte* sc, ushort d)
    {
        var dv = Vector256.Create(HalfTable.ToSingle(d));
        return (Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(sc)) * dv, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(sc + 8)) * dv);
    }

    /// <summary>One Q6_K row · one token, its quants in <typeparamref name="TLayout"/> (<see cref="Q6KPacked.Compact"/>).</summary>
    public static float Q6K<TDot, TLayout>(Q6KPacked w, int row, KQuantActivations acts, int token, bool far = false) where TDot : struct, IByteDot where TLayout : struct, IQ6Layout =>
        far ? Q6K<TDot, TLayout, FarRows>(w, row, acts, token) : Q6K<TDot, TLayout, NearRows>(w, row, acts, token);

    /// <summary><see cref="Q6K{TDot, TLayout}"/> with the prefetch form as a type (<see cref="IRowPrefetch"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q6K<TDot, TLayout, TPrefetch>(Q6KPacked w, int row, KQuantActivations acts, int token)
        where TDot : struct, IByteDot where TLayout : struct, IQ6Layout where TPrefetch : struct, IRowPrefetch
    {
        int blocks = w.SuperBlocks, tokens = acts.Tokens;
        byte* q = w.RowQs(row);
        sbyte* sc = w.RowScales(row);
        ushort* wd = w.RowD(row);
        sbyte* v = acts.XV16(token);
        long vs = acts.XVStride;
        int* start = acts.Start6(token);
        float* dx = acts.D(token);
        var acc = Vector256<float>.Zero;
        for (int b = 0; b < blocks; b++, q += TLayout.Bytes, sc += 16, wd++, v += vs, start += 16 * tokens, dx += tokens)
        {
            if (typeof(TDot) == typeof(VnniByteDot)) Sse.Prefetch0(q + 4096);
            if (typeof(TDot) == typeof(VnniByteDot)) Sse.Prefetch0(q + 4096 + 128);
            else MaddByteDot.PrefetchWeights(q, 3, TPrefetch.Far);
            var (f0, f1) = GroupScales(sc, *wd);
            var s0 = Vector256.Load(start);
            var s1 = Vector256.Load(start + 8);
            s0 = TDot.Dp2(s0, TLayout.Load(q, 0, 0), v, TLayout.Load(q, 0, 1), v + 32);
            s1 = TDot.Dp2(s1, TLayout.Load(q, 1, 0), v + 128, TLayout.Load(q, 1, 1), v + 160);
            s0 = TDot.Dp2(s0, TLayout.Load(q, 0, 2), v + 64, TLayout.Load(q, 0, 3), v + 96);
            s1 = TDot.Dp2(s1, TLayout.Load(q, 1, 2), v + 192, TLayout.Load(q, 1, 3), v + 224);
            var t = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s1), f1, Avx.ConvertToVector256Single(s0) * f0);
            acc = Fma.MultiplyAdd(t, Vector256.Create(*dx), acc);
        }
        return Vector256.Sum(acc);
    }

    /// <summary>
    /// Row <paramref name="row"/>'s group scales (<see cref="GroupScales"/>: sc·d of sub-blocks 0–7, then 8–15) of every
    /// super-block as floats (16 per super-block) into <paramref name="dst"/>, for <see cref="Q6KTile2x4"/>.
    /// </summary>
    public static void Q6KScales(Q6KPacked w, int row, float* dst)
    {
        sbyte* sc = w.RowScales(row);
        ushort* d = w.RowD(row);
        for (int b = 0; b < w.SuperBlocks; b++, sc += 16, d++, dst += ScaleFloats)
        {
            var (f0, f1) = GroupScales(sc, *d);
            f0.Store(dst);
            f1.Store(dst + 8);
        }
    }

    /// <summary>
    /// Two Q6_K rows × tokens t0…t0+3: y[t·stride + r], the rows' quants in the byte form (<see cref="Q6Bytes"/>: a
    /// byte-form matrix's rows, or compact rows expanded by <see cref="Q6KPacked.ExpandRows"/>) at <paramref name="qA"/>
    /// and <paramref name="qB"/>, their scales from <see cref="Q6KScales"/> at <paramref name="fA"/> and
    /// <paramref name="fB"/>. Written out like
    /// <see cref="QmKTile2x4"/> (measured on one thread: a third faster than the loop over vectors with integer scale
    /// products it replaces), row B reading the activations through its own pointer as there (5–7% faster on Zen 4, 5–9%
    /// with AVX-512 off: <c>shapes q6_k 1 4096x14336</c>, 64 tokens).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6KTile2x4<TDot>(byte* qA, byte* qB, int blocks, float* fA, float* fB, KQuantActivations acts, int t0, float* y, long stride)
        where TDot : struct, IByteDot
    {
        int tokens = acts.Tokens;
        sbyte* v = acts.XV16(t0);
        sbyte* u = Opaque.Same(v); // row B's own name for the activations: its loads fold into its multiply-adds (see Opaque)
        long vs = acts.XVStride;
        int* st = acts.Start6(t0);
        float* d = acts.D(t0);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, c0 = default, c1 = default, c2 = default, c3 = default;
        for (int b = 0; b < blocks; b++, qA += Q6Bytes.Bytes, qB += Q6Bytes.Bytes, fA += ScaleFloats, fB += ScaleFloats, v += vs, u += vs, st += 16 * tokens, d += tokens)
        {
            Sse.Prefetch0(qA + 4096);
            Sse.Prefetch0(qA + 4096 + 128);
            Sse.Prefetch0(qB + 4096);
            Sse.Prefetch0(qB + 4096 + 128);
            Vector256<float> fA0 = Vector256.Load(fA), fA1 = Vector256.Load(fA + 8), fB0 = Vector256.Load(fB), fB1 = Vector256.Load(fB + 8);
            Vector256<float> ta0, ta1, ta2, ta3, tc0, tc1, tc2, tc3;
            Vector256<byte> wA, wB;

            {
                // Group 0: sums start at −32 × Σx of each sub-block (token i's at st + 16i + 0); vector k at v + 0 + 32k + 256i.
                // Weights ≤ 63: two vectors' pairs fit int16 (IByteDot.Pairs), widened after the second and the fourth.
                Vector256<int> sa0 = default, sa1 = default, sa2 = default, sa3 = default, sc0 = default, sc1 = default, sc2 = default, sc3 = default;
                Vector256<int> ha0 = Vector256.Load(st + 0), ha1 = Vector256.Load(st + 16), ha2 = Vector256.Load(st + 32), ha3 = Vector256.Load(st + 48);
                Vector256<int> hc0 = ha0, hc1 = ha1, hc2 = ha2, hc3 = ha3;
                wA = Q6Bytes.Load(qA, 0, 0); wB = Q6Bytes.Load(qB, 0, 0);
                sa0 = TDot.Pairs(sa0, wA, v + 0); sc0 = TDot.Pairs(sc0, wB, u + 0);
                sa1 = TDot.Pairs(sa1, wA, v + 256); sc1 = TDot.Pairs(sc1, wB, u + 256);
                sa2 = TDot.Pairs(sa2, wA, v + 512); sc2 = TDot.Pairs(sc2, wB, u + 512);
                sa3 = TDot.Pairs(sa3, wA, v + 768); sc3 = TDot.Pairs(sc3, wB, u + 768);
                wA = Q6Bytes.Load(qA, 0, 1); wB = Q6Bytes.Load(qB, 0, 1);
                sa0 = TDot.Pairs(sa0, wA, v + 32); sc0 = TDot.Pairs(sc0, wB, u + 32);
                sa1 = TDot.Pairs(sa1, wA, v + 288); sc1 = TDot.Pairs(sc1, wB, u + 288);
                sa2 = TDot.Pairs(sa2, wA, v + 544); sc2 = TDot.Pairs(sc2, wB, u + 544);
                sa3 = TDot.Pairs(sa3, wA, v + 800); sc3 = TDot.Pairs(sc3, wB, u + 800);
                ha0 += TDot.Widen(sa0); ha1 += TDot.Widen(sa1); ha2 += TDot.Widen(sa2); ha3 += TDot.Widen(sa3);
                hc0 += TDot.Widen(sc0); hc1 += TDot.Widen(sc1); hc2 += TDot.Widen(sc2); hc3 += TDot.Widen(sc3);
                sa0 = sa1 = sa2 = sa3 = sc0 = sc1 = sc2 = sc3 = default;
                wA = Q6Bytes.Load(qA, 0, 2); wB = Q6Bytes.Load(qB, 0, 2);
                sa0 = TDot.Pairs(sa0, wA, v + 64); sc0 = TDot.Pairs(sc0, wB, u + 64);
                sa1 = TDot.Pairs(sa1, wA, v + 320); sc1 = TDot.Pairs(sc1, wB, u + 320);
                sa2 = TDot.Pairs(sa2, wA, v + 576); sc2 = TDot.Pairs(sc2, wB, u + 576);
                sa3 = TDot.Pairs(sa3, wA, v + 832); sc3 = TDot.Pairs(sc3, wB, u + 832);
                wA = Q6Bytes.Load(qA, 0, 3); wB = Q6Bytes.Load(qB, 0, 3);
                sa0 = TDot.Pairs(sa0, wA, v + 96); sc0 = TDot.Pairs(sc0, wB, u + 96);
                sa1 = TDot.Pairs(sa1, wA, v + 352); sc1 = TDot.Pairs(sc1, wB, u + 352);
                sa2 = TDot.Pairs(sa2, wA, v + 608); sc2 = TDot.Pairs(sc2, wB, u + 608);
                sa3 = TDot.Pairs(sa3, wA, v + 864); sc3 = TDot.Pairs(sc3, wB, u + 864);
                ha0 += TDot.Widen(sa0); ha1 += TDot.Widen(sa1); ha2 += TDot.Widen(sa2); ha3 += TDot.Widen(sa3);
                hc0 += TDot.Widen(sc0); hc1 += TDot.Widen(sc1); hc2 += TDot.Widen(sc2); hc3 += TDot.Widen(sc3);
                ta0 = Avx.ConvertToVector256Single(ha0) * fA0; tc0 = Avx.ConvertToVector256Single(hc0) * fB0;
                ta1 = Avx.ConvertToVector256Single(ha1) * fA0; tc1 = Avx.ConvertToVector256Single(hc1) * fB0;
                ta2 = Avx.ConvertToVector256Single(ha2) * fA0; tc2 = Avx.ConvertToVector256Single(hc2) * fB0;
                ta3 = Avx.ConvertToVector256Single(ha3) * fA0; tc3 = Avx.ConvertToVector256Single(hc3) * fB0;
            }
            {
                // Group 1: sums start at −32 × Σx of each sub-block (token i's at st + 16i + 8); vector k at v + 128 + 32k + 256i.
                // Weights ≤ 63: two vectors' pairs fit int16 (IByteDot.Pairs), widened after the second and the fourth.
                Vector256<int> sa0 = default, sa1 = default, sa2 = default, sa3 = default, sc0 = default, sc1 = default, sc2 = default, sc3 = default;
                Vector256<int> ha0 = Vector256.Load(st + 8), ha1 = Vector256.Load(st + 24), ha2 = Vector256.Load(st + 40), ha3 = Vector256.Load(st + 56);
                Vector256<int> hc0 = ha0, hc1 = ha1, hc2 = ha2, hc3 = ha3;
                wA = Q6Bytes.Load(qA, 1, 0); wB = Q6Bytes.Load(qB, 1, 0);
                sa0 = TDot.Pairs(sa0, wA, v + 128); sc0 = TDot.Pairs(sc0, wB, u + 128);
                sa1 = TDot.Pairs(sa1, wA, v + 384); sc1 = TDot.Pairs(sc1, wB, u + 384);
                sa2 = TDot.Pairs(sa2, wA, v + 640); sc2 = TDot.Pairs(sc2, wB, u + 640);
                sa3 = TDot.Pairs(sa3, wA, v + 896); sc3 = TDot.Pairs(sc3, wB, u + 896);
                wA = Q6Bytes.Load(qA, 1, 1); wB = Q6Bytes.Load(qB, 1, 1);
                sa0 = TDot.Pairs(sa0, wA, v + 160); sc0 = TDot.Pairs(sc0, wB, u + 160);
                sa1 = TDot.Pairs(sa1, wA, v + 416); sc1 = TDot.Pairs(sc1, wB, u + 416);
                sa2 = TDot.Pairs(sa2, wA, v + 672); sc2 = TDot.Pairs(sc2, wB, u + 672);
                sa3 = TDot.Pairs(sa3, wA, v + 928); sc3 = TDot.Pairs(sc3, wB, u + 928);
                ha0 += TDot.Widen(sa0); ha1 += TDot.Widen(sa1); ha2 += TDot.Widen(sa2); ha3 += TDot.Widen(sa3);
                hc0 += TDot.Widen(sc0); hc1 += TDot.Widen(sc1); hc2 += TDot.Widen(sc2); hc3 += TDot.Widen(sc3);
                sa0 = sa1 = sa2 = sa3 = sc0 = sc1 = sc2 = sc3 = default;
                wA = Q6Bytes.Load(qA, 1, 2); wB = Q6Bytes.Load(qB, 1, 2);
                sa0 = TDot.Pairs(sa0, wA, v + 192); sc0 = TDot.Pairs(sc0, wB, u + 192);
                sa1 = TDot.Pairs(sa1, wA, v + 448); sc1 = TDot.Pairs(sc1, wB, u + 448);
                sa2 = TDot.Pairs(sa2, wA, v + 704); sc2 = TDot.Pairs(sc2, wB, u + 704);
                sa3 = TDot.Pairs(sa3, wA, v + 960); sc3 = TDot.Pairs(sc3, wB, u + 960);
                wA = Q6Bytes.Load(qA, 1, 3); wB = Q6Bytes.Load(qB, 1, 3);
                sa0 = TDot.Pairs(sa0, wA, v + 224); sc0 = TDot.Pairs(sc0, wB, u + 224);
                sa1 = TDot.Pairs(sa1, wA, v + 480); sc1 = TDot.Pairs(sc1, wB, u + 480);
                sa2 = TDot.Pairs(sa2, wA, v + 736); sc2 = TDot.Pairs(sc2, wB, u + 736);
                sa3 = TDot.Pairs(sa3, wA, v + 992); sc3 = TDot.Pairs(sc3, wB, u + 992);
                ha0 += TDot.Widen(sa0); ha1 += TDot.Widen(sa1); ha2 += TDot.Widen(sa2); ha3 += TDot.Widen(sa3);
                hc0 += TDot.Widen(sc0); hc1 += TDot.Widen(sc1); hc2 += TDot.Widen(sc2); hc3 += TDot.Widen(sc3);
                ta0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ha0), fA1, ta0); tc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(hc0), fB1, tc0);
                ta1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ha1), fA1, ta1); tc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(hc1), fB1, tc1);
                ta2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ha2), fA1, ta2); tc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(hc2), fB1, tc2);
                ta3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(ha3), fA1, ta3); tc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(hc3), fB1, tc3);
            }
            a0 = Fma.MultiplyAdd(ta0, Vector256.Create(d[0]), a0); c0 = Fma.MultiplyAdd(tc0, Vector256.Create(d[0]), c0);
            a1 = Fma.MultiplyAdd(ta1, Vector256.Create(d[1]), a1); c1 = Fma.MultiplyAdd(tc1, Vector256.Create(d[1]), c1);
            a2 = Fma.MultiplyAdd(ta2, Vector256.Create(d[2]), a2); c2 = Fma.MultiplyAdd(tc2, Vector256.Create(d[2]), c2);
            a3 = Fma.MultiplyAdd(ta3, Vector256.Create(d[3]), a3); c3 = Fma.MultiplyAdd(tc3, Vector256.Create(d[3]), c3);
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
