using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Q4_0 and Q8_0 dot products with AVX-VNNI (<c>VPDPBUSD</c>, 256-bit): 32 u8 × s8 products summed into eight int32
/// lanes by one instruction, two per cycle on the machines that have it — about 2.5× the multiply rate of AVX-512BW's
/// <c>VPMADDUBSW</c> + <c>VPMADDWD</c> pair (measured here: 137 vs ~52 G products/s on one core; .NET 10 exposes no 512-bit
/// VNNI, and AMD Zen 4 reports no AVX-VNNI, so it keeps the AVX-512BW kernels of <see cref="PackedDot"/>).
/// <para>
/// The weights are in the <see cref="PackedMatrix.Interleaved"/> layout and the activations in the matching
/// <see cref="PackedActivations.Token.XV"/> order: groups of eight blocks in which int32 lane i of every vector holds four
/// consecutive values of block i. Eight <c>VPDPBUSD</c> then leave lane i holding block i's whole integer sum, so the
/// float work — the −8 (Q4_0) or −128 (Q8_0) offset, the int→float conversion and the d_w·d_x scale — is done once per
/// eight blocks instead of once per block. Q4_0 nibbles are unsigned (0–15); Q8_0 weights are stored +128 (0–255); the
/// offset times Σx is where each block's integer sum starts (<see cref="PackedActivations.Token.Start8"/>,
/// <see cref="PackedActivations.Token.Start128"/>), so each block's sum is exact. Blocks after the last whole group stay in the file's order
/// and go through the scalar tail.
/// </para>
/// <para>
/// Per (row, token) the row kernels and the tiles do the same operations in the same order (one float accumulator,
/// groups in order, the tail added last), so prompts batched through a tile give bit-identical results to decoding.
/// </para>
/// </summary>
internal static unsafe class VnniDot
{
    /// <summary>Whether the machine runs the AVX-VNNI forms of these kernels (Q8_0 needs them; the nibble formats also run on <see cref="MaddByteDot"/>).</summary>
    public static bool Supported => AvxVnni.IsSupported;

    /// <summary>
    /// The GF(2) affine matrix (GFNI <c>GF2P8AFFINEQB</c>) that shifts each byte right by four: output bit i takes input
    /// bit i + 4 (matrix byte 7 − i = 1 &lt;&lt; (i + 4)) for i &lt; 4, and 0 above — a Q4 high nibble in one instruction.
    /// </summary>
    private const ulong ShiftRight4 = 0x1020408000000000UL;

    /// <summary>Blocks per interleaved group.</summary>
    public const int GroupBlocks = 8;

    private const float TwoPow112 = (float)(1UL << 56) * (1UL << 56); // a constant, not a static field: see KernelStatics

    /// <summary>
    /// Eight fp16 scales → float, exactly for every finite value (<see cref="PackedDot.Half4"/> is the same at 128 bits), in
    /// four instructions: each half sign-extended to int32 and shifted left by 13 puts its sign at bit 31 and its
    /// exponent and mantissa at bits 13–27 (the copies of the sign at bits 28–30 are masked off), so the masked bits
    /// read as a float are ±(the half's magnitude × 2⁻¹¹²) — exact for normal and subnormal halves alike — and one
    /// multiply by 2¹¹² (exact, sign-symmetric) gives the value. (.NET 10 exposes no F16C <c>VCVTPH2PS</c>.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Half8(ushort* p)
    {
        var h = Avx2.ConvertToVector256Int32((short*)p); // VPMOVSXWD from memory
        return ((h << 13) & Vector256.Create(unchecked((int)0x8FFFE000))).AsSingle() * Vector256.Create(TwoPow112);
    }

    /// <summary>The high nibble of every byte (Q4 quants 16–31 of a block in the interleaved layouts).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> High(Vector256<byte> p, Vector256<byte> mask) =>
        Gfni.V256.IsSupported
            ? Gfni.V256.GaloisFieldAffineTransform(p, Vector256.Create(ShiftRight4).AsByte(), 0) // one instruction
            : Vector256.ShiftRightLogical(p.AsUInt16(), 4).AsByte() & mask;

    /// <summary>
    /// <paramref name="start"/> + the integer sums of one interleaved group of 128 nibble bytes (Q4_0's eight blocks,
    /// Q4_K's and Q5_K's eight sub-blocks) with its 256 activation bytes, one block per lane. Two chains so the eight
    /// multiply-adds overlap (low nibbles in one, high in the other); integer sums, so the split changes nothing. Q5_K (<typeparamref name="TBits"/> =
    /// <see cref="FiveBits"/>) or-s each vector's fifth bits from the plane at <paramref name="qh"/> in
    /// (<see cref="VnniKQuant.WithFifth"/>); for <see cref="FourBits"/> that code is not compiled and qh is not read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> Nibbles<TBits, TDot>(byte* q, byte* qh, sbyte* v, Vector256<int> start, Vector256<byte> m)
        where TBits : struct, IQuantBits where TDot : struct, IByteDot
    {
        var h = typeof(TBits) == typeof(FiveBits) ? Vector256.Load(qh) : default;
        var p0 = Vector256.Load(q);
        var p1 = Vector256.Load(q + 32);
        var p2 = Vector256.Load(q + 64);
        var p3 = Vector256.Load(q + 96);
        var s0 = TDot.Dp4(start, VnniKQuant.WithFifth<TBits>(p0 & m, h, 0), v, VnniKQuant.WithFifth<TBits>(p1 & m, h, 1), v + 32,
            VnniKQuant.WithFifth<TBits>(p2 & m, h, 2), v + 64, VnniKQuant.WithFifth<TBits>(p3 & m, h, 3), v + 96);
        var s1 = TDot.Dp4(Vector256<int>.Zero, VnniKQuant.WithFifth<TBits>(High(p0, m), h, 4), v + 128, VnniKQuant.WithFifth<TBits>(High(p1, m), h, 5), v + 160,
            VnniKQuant.WithFifth<TBits>(High(p2, m), h, 6), v + 192, VnniKQuant.WithFifth<TBits>(High(p3, m), h, 7), v + 224);
        return s0 + s1;
    }

    /// <summary>acc += float(sum) · d_w · d_x for one group of eight blocks (the sums start from −bias).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<int> sum, Vector256<float> dw, float* dx, Vector256<float> acc) =>
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum), dw * Vector256.Load(dx), acc);

    /// <summary>A group's starting integer sums: minus the offset times Σx of each block (prepared with the activations).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Start(int* start) => Vector256.Load(start);

    // ---------------------------------------------------------------- Q4_0

    /// <summary>One Q4_0 row (interleaved layout) · one token.</summary>
    public static float Q4<TDot>(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x, bool far = false) where TDot : struct, IByteDot =>
        far ? Q4<TDot, FarRows>(ws, wq, blocks, x) : Q4<TDot, NearRows>(ws, wq, blocks, x);

    /// <summary><see cref="Q4{TDot}"/> with the prefetch form as a type (see <see cref="Q8{TDot, TPrefetch}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q4<TDot, TPrefetch>(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x) where TDot : struct, IByteDot where TPrefetch : struct, IRowPrefetch
    {
        int groups = blocks / GroupBlocks;
        var m = Vector256.Create((byte)0x0F);
        var acc = Vector256<float>.Zero;
        sbyte* v = x.XV;
        int* bias = x.Start8;
        float* dx = x.D;
        byte* q = wq;
        ushort* s = ws;
        for (int g = 0; g < groups; g++, q += 128, v += 256, bias += 8, dx += 8, s += 8)
        {
            if (typeof(TDot) == typeof(VnniByteDot)) Sse.Prefetch0(q + 2048); // as measured on the VNNI machine
            else MaddByteDot.PrefetchWeights(q, 2, TPrefetch.Far);
            acc = Scale(Nibbles<FourBits, TDot>(q, null, v, Start(bias), m), Half8(s), dx, acc);
        }
        return Vector256.Sum(acc) + Q4Tail(ws, wq, blocks, x, groups * GroupBlocks);
    }

    /// <summary>The blocks after the last whole group (file order), scalar.</summary>
    public static float Q4Tail(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x, int from)
    {
        float sum = 0;
        for (int b = from; b < blocks; b++)
        {
            byte* q = wq + b * 16;
            sbyte* v = x.XV + b * 32;
            int isum = x.Start8[b];
            for (int j = 0; j < 16; j++) isum += (q[j] & 0x0F) * v[j] + (q[j] >> 4) * v[16 + j];
            sum += isum * (HalfTable.ToSingle(ws[b]) * x.D[b]);
        }
        return sum;
    }

    /// <summary>
    /// Two Q4_0 rows × four tokens: each group's nibbles are unpacked once for four tokens and each token's activation
    /// vectors serve both rows. y[t·stride + r] for t &lt; 4, r &lt; 2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4Tile2x4<TDot>(ushort* wsA, byte* wqA, ushort* wsB, byte* wqB, int blocks, PackedActivations acts, int t0, float* y, long stride)
        where TDot : struct, IByteDot
    {
        var x0 = acts.For(t0);
        var x1 = acts.For(t0 + 1);
        var x2 = acts.For(t0 + 2);
        var x3 = acts.For(t0 + 3);
        sbyte* v0 = x0.XV, v1 = x1.XV, v2 = x2.XV, v3 = x3.XV;
        int* b0 = x0.Start8, b1 = x1.Start8, b2 = x2.Start8, b3 = x3.Start8;
        float* d0 = x0.D, d1 = x1.D, d2 = x2.D, d3 = x3.D;
        int groups = blocks / GroupBlocks;
        var m = Vector256.Create((byte)0x0F);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, c0 = default, c1 = default, c2 = default, c3 = default;
        for (int g = 0; g < groups; g++)
        {
            byte* qA = wqA + g * 128, qB = wqB + g * 128;
            Sse.Prefetch0(qA + 2048);
            Sse.Prefetch0(qB + 2048);
            int b = g * 8;
            // The eight vectors' products through IByteDot.Pairs (nibbles ≤ 15: all eight fit int16 before one Widen).
            Vector256<int> sa0 = default, sa1 = default, sa2 = default, sa3 = default;
            Vector256<int> sc0 = default, sc1 = default, sc2 = default, sc3 = default;
            int o = g * 256;
            // Written out (k constant): measured faster than the loop over k (multiply-add, one thread: 114–129 against 117 GOP/s).
            {
                const int k = 0;
                var pA = Vector256.Load(qA + k * 32);
                var pB = Vector256.Load(qB + k * 32);
                var lA = pA & m;
                var lB = pB & m;
                int ol = o + k * 32;
                sa0 = TDot.Pairs(sa0, lA, v0 + ol); sc0 = TDot.Pairs(sc0, lB, v0 + ol);
                sa1 = TDot.Pairs(sa1, lA, v1 + ol); sc1 = TDot.Pairs(sc1, lB, v1 + ol);
                sa2 = TDot.Pairs(sa2, lA, v2 + ol); sc2 = TDot.Pairs(sc2, lB, v2 + ol);
                sa3 = TDot.Pairs(sa3, lA, v3 + ol); sc3 = TDot.Pairs(sc3, lB, v3 + ol);
                var hA = High(pA, m);
                var hB = High(pB, m);
                int oh = ol + 128;
                sa0 = TDot.Pairs(sa0, hA, v0 + oh); sc0 = TDot.Pairs(sc0, hB, v0 + oh);
                sa1 = TDot.Pairs(sa1, hA, v1 + oh); sc1 = TDot.Pairs(sc1, hB, v1 + oh);
                sa2 = TDot.Pairs(sa2, hA, v2 + oh); sc2 = TDot.Pairs(sc2, hB, v2 + oh);
                sa3 = TDot.Pairs(sa3, hA, v3 + oh); sc3 = TDot.Pairs(sc3, hB, v3 + oh);
            }
            {
                const int k = 1;
                var pA = Vector256.Load(qA + k * 32);
                var pB = Vector256.Load(qB + k * 32);
                var lA = pA & m;
                var lB = pB & m;
                int ol = o + k * 32;
                sa0 = TDot.Pairs(sa0, lA, v0 + ol); sc0 = TDot.Pairs(sc0, lB, v0 + ol);
                sa1 = TDot.Pairs(sa1, lA, v1 + ol); sc1 = TDot.Pairs(sc1, lB, v1 + ol);
                sa2 = TDot.Pairs(sa2, lA, v2 + ol); sc2 = TDot.Pairs(sc2, lB, v2 + ol);
                sa3 = TDot.Pairs(sa3, lA, v3 + ol); sc3 = TDot.Pairs(sc3, lB, v3 + ol);
                var hA = High(pA, m);
                var hB = High(pB, m);
                int oh = ol + 128;
                sa0 = TDot.Pairs(sa0, hA, v0 + oh); sc0 = TDot.Pairs(sc0, hB, v0 + oh);
                sa1 = TDot.Pairs(sa1, hA, v1 + oh); sc1 = TDot.Pairs(sc1, hB, v1 + oh);
                sa2 = TDot.Pairs(sa2, hA, v2 + oh); sc2 = TDot.Pairs(sc2, hB, v2 + oh);
                sa3 = TDot.Pairs(sa3, hA, v3 + oh); sc3 = TDot.Pairs(sc3, hB, v3 + oh);
            }
            {
                const int k = 2;
                var pA = Vector256.Load(qA + k * 32);
                var pB = Vector256.Load(qB + k * 32);
                var lA = pA & m;
                var lB = pB & m;
                int ol = o + k * 32;
                sa0 = TDot.Pairs(sa0, lA, v0 + ol); sc0 = TDot.Pairs(sc0, lB, v0 + ol);
                sa1 = TDot.Pairs(sa1, lA, v1 + ol); sc1 = TDot.Pairs(sc1, lB, v1 + ol);
                sa2 = TDot.Pairs(sa2, lA, v2 + ol); sc2 = TDot.Pairs(sc2, lB, v2 + ol);
                sa3 = TDot.Pairs(sa3, lA, v3 + ol); sc3 = TDot.Pairs(sc3, lB, v3 + ol);
                var hA = High(pA, m);
                var hB = High(pB, m);
                int oh = ol + 128;
                sa0 = TDot.Pairs(sa0, hA, v0 + oh); sc0 = TDot.Pairs(sc0, hB, v0 + oh);
                sa1 = TDot.Pairs(sa1, hA, v1 + oh); sc1 = TDot.Pairs(sc1, hB, v1 + oh);
                sa2 = TDot.Pairs(sa2, hA, v2 + oh); sc2 = TDot.Pairs(sc2, hB, v2 + oh);
                sa3 = TDot.Pairs(sa3, hA, v3 + oh); sc3 = TDot.Pairs(sc3, hB, v3 + oh);
            }
            {
                const int k = 3;
                var pA = Vector256.Load(qA + k * 32);
                var pB = Vector256.Load(qB + k * 32);
                var lA = pA & m;
                var lB = pB & m;
                int ol = o + k * 32;
                sa0 = TDot.Pairs(sa0, lA, v0 + ol); sc0 = TDot.Pairs(sc0, lB, v0 + ol);
                sa1 = TDot.Pairs(sa1, lA, v1 + ol); sc1 = TDot.Pairs(sc1, lB, v1 + ol);
                sa2 = TDot.Pairs(sa2, lA, v2 + ol); sc2 = TDot.Pairs(sc2, lB, v2 + ol);
                sa3 = TDot.Pairs(sa3, lA, v3 + ol); sc3 = TDot.Pairs(sc3, lB, v3 + ol);
                var hA = High(pA, m);
                var hB = High(pB, m);
                int oh = ol + 128;
                sa0 = TDot.Pairs(sa0, hA, v0 + oh); sc0 = TDot.Pairs(sc0, hB, v0 + oh);
                sa1 = TDot.Pairs(sa1, hA, v1 + oh); sc1 = TDot.Pairs(sc1, hB, v1 + oh);
                sa2 = TDot.Pairs(sa2, hA, v2 + oh); sc2 = TDot.Pairs(sc2, hB, v2 + oh);
                sa3 = TDot.Pairs(sa3, hA, v3 + oh); sc3 = TDot.Pairs(sc3, hB, v3 + oh);
            }
            var dA = Half8(wsA + g * 8);
            var dB = Half8(wsB + g * 8);
            Vector256<int> s0 = Start(b0 + b), s1 = Start(b1 + b), s2 = Start(b2 + b), s3 = Start(b3 + b);
            a0 = Scale(s0 + TDot.Widen(sa0), dA, d0 + b, a0); c0 = Scale(s0 + TDot.Widen(sc0), dB, d0 + b, c0);
            a1 = Scale(s1 + TDot.Widen(sa1), dA, d1 + b, a1); c1 = Scale(s1 + TDot.Widen(sc1), dB, d1 + b, c1);
            a2 = Scale(s2 + TDot.Widen(sa2), dA, d2 + b, a2); c2 = Scale(s2 + TDot.Widen(sc2), dB, d2 + b, c2);
            a3 = Scale(s3 + TDot.Widen(sa3), dA, d3 + b, a3); c3 = Scale(s3 + TDot.Widen(sc3), dB, d3 + b, c3);
        }
        // Summed before the tails' calls: vectors live across a call are kept on the stack, inside the loop too.
        float ya0 = Vector256.Sum(a0), ya1 = Vector256.Sum(a1), ya2 = Vector256.Sum(a2), ya3 = Vector256.Sum(a3);
        float yc0 = Vector256.Sum(c0), yc1 = Vector256.Sum(c1), yc2 = Vector256.Sum(c2), yc3 = Vector256.Sum(c3);
        int tail = groups * GroupBlocks;
        y[0] = ya0 + Q4Tail(wsA, wqA, blocks, x0, tail);
        y[stride] = ya1 + Q4Tail(wsA, wqA, blocks, x1, tail);
        y[2 * stride] = ya2 + Q4Tail(wsA, wqA, blocks, x2, tail);
        y[3 * stride] = ya3 + Q4Tail(wsA, wqA, blocks, x3, tail);
        y[1] = yc0 + Q4Tail(wsB, wqB, blocks, x0, tail);
        y[stride + 1] = yc1 + Q4Tail(wsB, wqB, blocks, x1, tail);
        y[2 * stride + 1] = yc2 + Q4Tail(wsB, wqB, blocks, x2, tail);
        y[3 * stride + 1] = yc3 + Q4Tail(wsB, wqB, blocks, x3, tail);
    }

    // ---------------------------------------------------------------- Q8_0

    /// <summary>One Q8_0 row (interleaved layout, weights stored +128) · one token, over <typeparamref name="TDot"/> (<see cref="IByteDot.DpQ8"/>).</summary>
    public static float Q8<TDot>(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x, bool far = false) where TDot : struct, IByteDot =>
        far ? Q8<TDot, FarRows>(ws, wq, blocks, x) : Q8<TDot, NearRows>(ws, wq, blocks, x);

    /// <summary>
    /// <see cref="Q8{TDot}"/> with the prefetch form as a type (<typeparamref name="TPrefetch"/>); the pointers step
    /// through the row (no index arithmetic in the loop).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Q8<TDot, TPrefetch>(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x) where TDot : struct, IByteDot where TPrefetch : struct, IRowPrefetch
    {
        int groups = blocks / GroupBlocks;
        var acc = Vector256<float>.Zero;
        sbyte* v = x.XV;
        int* bias = x.Start128;
        float* dx = x.D;
        byte* q = wq;
        ushort* s = ws;
        for (int g = 0; g < groups; g++, q += 256, v += 256, bias += 8, dx += 8, s += 8)
        {
            if (typeof(TDot) == typeof(VnniByteDot))
            {
                Sse.Prefetch0(q + 4096);
                Sse.Prefetch0(q + 4096 + 64);
                Sse.Prefetch0(q + 4096 + 128);
                Sse.Prefetch0(q + 4096 + 192);
            }
            else MaddByteDot.PrefetchWeights(q, 4, TPrefetch.Far);
            var s0 = TDot.DpQ8(TDot.Q8Bias ? Start(bias) : Vector256<int>.Zero, Vector256.Load(q), v);
            var s1 = TDot.DpQ8(Vector256<int>.Zero, Vector256.Load(q + 32), v + 32);
            s0 = TDot.DpQ8(s0, Vector256.Load(q + 64), v + 64);
            s1 = TDot.DpQ8(s1, Vector256.Load(q + 96), v + 96);
            s0 = TDot.DpQ8(s0, Vector256.Load(q + 128), v + 128);
            s1 = TDot.DpQ8(s1, Vector256.Load(q + 160), v + 160);
            s0 = TDot.DpQ8(s0, Vector256.Load(q + 192), v + 192);
            s1 = TDot.DpQ8(s1, Vector256.Load(q + 224), v + 224);
            acc = Scale(s0 + s1, Half8(s), dx, acc);
        }
        return Vector256.Sum(acc) + Q8Tail(ws, wq, blocks, x, groups * GroupBlocks);
    }

    /// <summary>The blocks after the last whole group (file order, signed), scalar.</summary>
    public static float Q8Tail(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x, int from)
    {
        float sum = 0;
        for (int b = from; b < blocks; b++)
        {
            sbyte* q = (sbyte*)wq + b * 32;
            sbyte* v = x.XV + b * 32;
            int isum = 0;
            for (int j = 0; j < 32; j++) isum += q[j] * v[j];
            sum += isum * (HalfTable.ToSingle(ws[b]) * x.D[b]);
        }
        return sum;
    }

    /// <summary>Two Q8_0 rows × four tokens (see <see cref="Q4Tile2x4"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8Tile2x4<TDot>(ushort* wsA, byte* wqA, ushort* wsB, byte* wqB, int blocks, PackedActivations acts, int t0, float* y, long stride)
        where TDot : struct, IByteDot
    {
        var x0 = acts.For(t0);
        var x1 = acts.For(t0 + 1);
        var x2 = acts.For(t0 + 2);
        var x3 = acts.For(t0 + 3);
        sbyte* v0 = x0.XV, v1 = x1.XV, v2 = x2.XV, v3 = x3.XV;
        int* b0 = x0.Start128, b1 = x1.Start128, b2 = x2.Start128, b3 = x3.Start128;
        float* d0 = x0.D, d1 = x1.D, d2 = x2.D, d3 = x3.D;
        int groups = blocks / GroupBlocks;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, c0 = default, c1 = default, c2 = default, c3 = default;
        for (int g = 0; g < groups; g++)
        {
            byte* qA = wqA + g * 256, qB = wqB + g * 256;
            int b = g * 8;
            Vector256<int> sa0 = default, sa1 = default, sa2 = default, sa3 = default;
            if (TDot.Q8Bias) { sa0 = Start(b0 + b); sa1 = Start(b1 + b); sa2 = Start(b2 + b); sa3 = Start(b3 + b); }
            Vector256<int> sc0 = sa0, sc1 = sa1, sc2 = sa2, sc3 = sa3;
            int o = g * 256;
            for (int k = 0; k < 8; k++)
            {
                if ((k & 1) == 0)
                {
                    Sse.Prefetch0(qA + k * 32 + 4096);
                    Sse.Prefetch0(qB + k * 32 + 4096);
                }
                var wA = Vector256.Load(qA + k * 32);
                var wB = Vector256.Load(qB + k * 32);
                int ok = o + k * 32;
                sa0 = TDot.DpQ8(sa0, wA, v0 + ok); sc0 = TDot.DpQ8(sc0, wB, v0 + ok);
                sa1 = TDot.DpQ8(sa1, wA, v1 + ok); sc1 = TDot.DpQ8(sc1, wB, v1 + ok);
                sa2 = TDot.DpQ8(sa2, wA, v2 + ok); sc2 = TDot.DpQ8(sc2, wB, v2 + ok);
                sa3 = TDot.DpQ8(sa3, wA, v3 + ok); sc3 = TDot.DpQ8(sc3, wB, v3 + ok);
            }
            var dA = Half8(wsA + g * 8);
            var dB = Half8(wsB + g * 8);
            a0 = Scale(sa0, dA, d0 + b, a0); c0 = Scale(sc0, dB, d0 + b, c0);
            a1 = Scale(sa1, dA, d1 + b, a1); c1 = Scale(sc1, dB, d1 + b, c1);
            a2 = Scale(sa2, dA, d2 + b, a2); c2 = Scale(sc2, dB, d2 + b, c2);
            a3 = Scale(sa3, dA, d3 + b, a3); c3 = Scale(sc3, dB, d3 + b, c3);
        }
        // Summed before the tails' calls: vectors live across a call are kept on the stack, inside the loop too.
        float ya0 = Vector256.Sum(a0), ya1 = Vector256.Sum(a1), ya2 = Vector256.Sum(a2), ya3 = Vector256.Sum(a3);
        float yc0 = Vector256.Sum(c0), yc1 = Vector256.Sum(c1), yc2 = Vector256.Sum(c2), yc3 = Vector256.Sum(c3);
        int tail = groups * GroupBlocks;
        y[0] = ya0 + Q8Tail(wsA, wqA, blocks, x0, tail);
        y[stride] = ya1 + Q8Tail(wsA, wqA, blocks, x1, tail);
        y[2 * stride] = ya2 + Q8Tail(wsA, wqA, blocks, x2, tail);
        y[3 * stride] = ya3 + Q8Tail(wsA, wqA, blocks, x3, tail);
        y[1] = yc0 + Q8Tail(wsB, wqB, blocks, x0, tail);
        y[stride + 1] = yc1 + Q8Tail(wsB, wqB, blocks, x1, tail);
        y[2 * stride + 1] = yc2 + Q8Tail(wsB, wqB, blocks, x2, tail);
        y[3 * stride + 1] = yc3 + Q8Tail(wsB, wqB, blocks, x3, tail);
    }
}
