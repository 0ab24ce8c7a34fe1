using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// The one instruction the interleaved (VNNI-layout) kernels are built on, as a struct type parameter: acc += the
/// eight int32 lane sums of four unsigned-byte × signed-byte products. <see cref="VnniByteDot"/> is AVX-VNNI's
/// <c>VPDPBUSD</c>; <see cref="MaddByteDot"/> computes the same sums with AVX2's <c>VPMADDUBSW</c> + <c>VPMADDWD</c> +
/// <c>VPADDD</c>, exact while every pair of products fits int16 — weights of at most 128 against activations of
/// |x| ≤ 127, which holds for the nibble formats (Q4_0, Q4_K, Q5_K: ≤ 31; Q6_K: ≤ 63) but not for Q8_0's +128 weights
/// (<see cref="IByteDot.DpQ8"/>: the multiply-add form takes those signed, with the sign moved onto the activation). The kernels of <see cref="VnniDot"/> and <see cref="VnniKQuant"/> are
/// written once and compiled per struct, so AVX2-only CPUs (Zen 2/3, Intel before 2021) and AVX-512 CPUs without
/// AVX-VNNI (Zen 4) get the same repacks and two-row × four-token tiles.
/// </summary>
internal unsafe interface IByteDot
{
    /// <summary>True where the instruction(s) run.</summary>
    static abstract bool IsSupported { get; }

    /// <summary>acc + Σ of four w·x products per int32 lane, the weights in <paramref name="w"/>, 32 activation bytes at <paramref name="x"/>.</summary>
    static abstract Vector256<int> Dp(Vector256<int> acc, Vector256<byte> w, sbyte* x);

    /// <summary>
    /// Whether <see cref="DpQ8"/> sums the stored (+128) Q8_0 weights, so the kernel starts from −128·Σx (VPDPBUSD), or
    /// the signed weights, so it starts from zero.
    /// </summary>
    static abstract bool Q8Bias { get; }

    /// <summary>
    /// acc + Σ of four products per int32 lane of the interleaved repack's Q8_0 weights (stored +128 in <paramref name="w"/>)
    /// and 32 activation bytes at <paramref name="x"/>: of the stored values where <see cref="Q8Bias"/>, else of the signed weights.
    /// </summary>
    static abstract Vector256<int> DpQ8(Vector256<int> acc, Vector256<byte> w, sbyte* x);

    /// <summary>
    /// The tiles' accumulate step: <paramref name="acc"/> + the products of <paramref name="w"/> and 32 activation bytes at
    /// <paramref name="x"/>, kept in the cheapest form that stays exact until <see cref="Widen"/>. <c>VPDPBUSD</c>: the int32
    /// lane sums (<see cref="Dp"/>; Widen does nothing). The multiply-add form: the int16 pair sums of <c>VPMADDUBSW</c>
    /// only, the int32 widening (<c>VPMADDWD</c>) left to Widen, once for several vectors — each pair is at most 2·w·127, so
    /// up to eight vectors of weights ≤ 15 (Q4_0, Q4_K: 30480), four of weights ≤ 31 (Q5_K: 31496) or two of weights ≤ 63
    /// (Q6_K: 32004) fit int16. The caller widens within those counts; the sums are integers, so where it widens changes
    /// nothing.
    /// </summary>
    static abstract Vector256<int> Pairs(Vector256<int> acc, Vector256<byte> w, sbyte* x);

    /// <summary>The int32 lane sums of what <see cref="Pairs"/> accumulated (from zero).</summary>
    static abstract Vector256<int> Widen(Vector256<int> pairs);

    /// <summary><see cref="Dp"/> of two weight vectors (each weight ≤ 63: Q6_K and below), added to <paramref name="acc"/>.</summary>
    static abstract Vector256<int> Dp2(Vector256<int> acc, Vector256<byte> w0, sbyte* x0, Vector256<byte> w1, sbyte* x1);

    /// <summary><see cref="Dp"/> of four weight vectors (each weight ≤ 31: Q4_0, Q4_K, Q5_K), added to <paramref name="acc"/>.</summary>
    static abstract Vector256<int> Dp4(Vector256<int> acc, Vector256<byte> w0, sbyte* x0, Vector256<byte> w1, sbyte* x1,
        Vector256<byte> w2, sbyte* x2, Vector256<byte> w3, sbyte* x3);
}

/// <summary>
/// Which prefetch the multiply-add row kernels use (<see cref="MaddByteDot.PrefetchWeights"/>), as a struct type
/// parameter: the kernels are compiled once per form, so the choice is made once per row, not tested in every
/// iteration of the loop (and takes no register there).
/// </summary>
internal interface IRowPrefetch
{
    /// <summary>The far L2 form (long rows) rather than the near non-temporal one.</summary>
    static abstract bool Far { get; }
}

/// <summary>Rows of up to <see cref="MaddByteDot.LongRowCols"/> columns: the near non-temporal prefetch.</summary>
internal readonly struct NearRows : IRowPrefetch
{
    public static bool Far => false;
}

/// <summary>Longer rows: the far L2 prefetch.</summary>
internal readonly struct FarRows : IRowPrefetch
{
    public static bool Far => true;
}

/// <summary>AVX-VNNI <c>VPDPBUSD</c> (256-bit; .NET 10 has no 512-bit form).</summary>
internal readonly unsafe struct VnniByteDot : IByteDot
{
    public static bool IsSupported => AvxVnni.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dp(Vector256<int> acc, Vector256<byte> w, sbyte* x) => AvxVnni.MultiplyWideningAndAdd(acc, w, Vector256.Load(x));

    public static bool Q8Bias => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Pairs(Vector256<int> acc, Vector256<byte> w, sbyte* x) => Dp(acc, w, x);


    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Widen(Vector256<int> pairs) => pairs;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DpQ8(Vector256<int> acc, Vector256<byte> w, sbyte* x) => Dp(acc, w, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dp2(Vector256<int> acc, Vector256<byte> w0, sbyte* x0, Vector256<byte> w1, sbyte* x1) => Dp(Dp(acc, w0, x0), w1, x1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dp4(Vector256<int> acc, Vector256<byte> w0, sbyte* x0, Vector256<byte> w1, sbyte* x1,
        Vector256<byte> w2, sbyte* x2, Vector256<byte> w3, sbyte* x3) => Dp(Dp(Dp(Dp(acc, w0, x0), w1, x1), w2, x2), w3, x3);
}

/// <summary>AVX2 <c>VPMADDUBSW</c> (pairs to int16) + <c>VPMADDWD</c> by ones (to int32) + add: exact for weights ≤ 128.</summary>
internal readonly unsafe struct MaddByteDot : IByteDot
{
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dp(Vector256<int> acc, Vector256<byte> w, sbyte* x) =>
        acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w, Vector256.Load(x)), Vector256.Create((short)1));

    public static bool Q8Bias => false;

    /// <summary>
    /// The row kernels' (decode's) prefetch of the weights: <paramref name="lines"/> cache lines. Rows of up to
    /// <see cref="LongRowCols"/> columns: <see cref="PrefetchDistance"/> bytes past <paramref name="q"/>, non-temporal
    /// (<c>PREFETCHNTA</c>, into L1 as the first lines to go): measured on Zen 4, 2 threads, one-token multiplies of
    /// 116 MB matrices in alternated rounds (<c>shapes</c>), best of two runs: Q4_0 4096/14336-column rows 4.3/5.1 ms with
    /// it against 4.8/6.3 without, Q6_K 6.1/7.9 against 7.3/10.7, Q8_0 6.8/8.0 against 8.6/9.4 (the temporal T0 form
    /// measured slower). <paramref name="far"/> (rows longer than <see cref="LongRowCols"/>, such as ffn_down's 14336):
    /// <see cref="FarPrefetchDistance"/> bytes ahead into L2 only (<c>PREFETCHT1</c>): a long row's activations (~15 KB)
    /// are read again by the next row, and weight lines brought into L1 evicted them, which had made ffn_down-shaped rows a
    /// third slower per byte than 4096-column ones. Measured the same way (Zen 4, <c>EURUS_FAR_PREFETCH=ab … shapes</c>):
    /// Q4_K 16384×14336, one thread 5.6–6.1 ms against 8.4–8.7, two threads 2.8 against 4.5 (min) and 3.8 against 5.2
    /// (median); Q4_0 4.0 against 5.0, Q6_K 5.9 against 6.7; 11008 columns (Llama-2's FFN) Q4_K 4.4 against 4.9, Q4_0
    /// 3.0 against 4.5. On 4096–8192-column rows the far form measured equal or up to 10% slower (Q4_K 8192 columns 4.5
    /// against 4.2, Q8_0 4096 8.5 against 7.5), hence the threshold.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PrefetchWeights(byte* q, [ConstantExpected(Min = 1, Max = 4)] int lines, bool far)
    {
        if (far)
        {
            Sse.Prefetch1(q + FarPrefetchDistance);
            if (lines > 1) Sse.Prefetch1(q + FarPrefetchDistance + 64);
            if (lines > 2) Sse.Prefetch1(q + FarPrefetchDistance + 128);
            if (lines > 3) Sse.Prefetch1(q + FarPrefetchDistance + 192);
            return;
        }
        Sse.PrefetchNonTemporal(q + PrefetchDistance);
        if (lines > 1) Sse.PrefetchNonTemporal(q + PrefetchDistance + 64);
        if (lines > 2) Sse.PrefetchNonTemporal(q + PrefetchDistance + 128);
        if (lines > 3) Sse.PrefetchNonTemporal(q + PrefetchDistance + 192);
    }

    /// <summary>How far ahead <see cref="PrefetchWeights"/> reaches on short rows (measured: 2048 beat 256, 512 and 1024 on Q4_K, and 4096 and 8192).</summary>
    public const int PrefetchDistance = 2048;

    /// <summary>How far ahead the L2 prefetch of long rows reaches (measured: 8192 and 16384 beat 2048 and 4096 on Q4_K).</summary>
    public const int FarPrefetchDistance = 8192;

    /// <summary>Rows longer than this many columns take the far L2 prefetch (<see cref="PrefetchWeights"/>).</summary>
    public const int LongRowCols = 8192;

    /// <summary>Whether a row of <paramref name="cols"/> columns takes the far prefetch, where <paramref name="options"/> allow it.</summary>
    public static bool Far(int cols, KernelOptions options) => options.FarPrefetch && cols > LongRowCols;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Pairs(Vector256<int> acc, Vector256<byte> w, sbyte* x) =>
        (acc.AsInt16() + Avx2.MultiplyAddAdjacent(w, Vector256.Load(x))).AsInt32();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Widen(Vector256<int> pairs) => Avx2.MultiplyAddAdjacent(pairs.AsInt16(), Vector256.Create((short)1));

    /// <summary>
    /// The signed weight w − 128 by an exclusive or, its magnitude (≤ 128, unsigned) times the activation with the
    /// weight's sign (<c>VPSIGNB</c>; |x| ≤ 127): each pair of products is at most 2·128·127 = 32512, exact in int16.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DpQ8(Vector256<int> acc, Vector256<byte> w, sbyte* x)
    {
        var s = (w ^ Vector256.Create((byte)0x80)).AsSByte();
        return acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(s), Avx2.Sign(Vector256.Load(x), s)), Vector256.Create((short)1));
    }

    // Several vectors' int16 pair sums are added before the one widening VPMADDWD (lanes keep their block): each pair
    // is at most 2·w·127, so two of them fit int16 for w ≤ 63 (32004) and four for w ≤ 31 (31496).

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dp2(Vector256<int> acc, Vector256<byte> w0, sbyte* x0, Vector256<byte> w1, sbyte* x1) =>
        acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(w0, Vector256.Load(x0)) + Avx2.MultiplyAddAdjacent(w1, Vector256.Load(x1)),
            Vector256.Create((short)1));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dp4(Vector256<int> acc, Vector256<byte> w0, sbyte* x0, Vector256<byte> w1, sbyte* x1,
        Vector256<byte> w2, sbyte* x2, Vector256<byte> w3, sbyte* x3) =>
        acc + Avx2.MultiplyAddAdjacent(
            Avx2.MultiplyAddAdjacent(w0, Vector256.Load(x0)) + Avx2.MultiplyAddAdjacent(w1, Vector256.Load(x1))
          + (Avx2.MultiplyAddAdjacent(w2, Vector256.Load(x2)) + Avx2.MultiplyAddAdjacent(w3, Vector256.Load(x3))),
            Vector256.Create((short)1));
}
