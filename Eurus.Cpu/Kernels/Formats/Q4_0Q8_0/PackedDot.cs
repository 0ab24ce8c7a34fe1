using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Dot products of one <see cref="PackedMatrix"/> row with prepared Q8_0 activations (<see cref="PackedActivations"/>).
/// Per block the integer sum is exact; it is scaled by d_w·d_x in float. Q4_0 nibbles are used unsigned (u8 × s8
/// multiply-add) and the −8 offset is removed in the integer domain with the activation bias lanes.
/// Paths: Vector512 (AVX-512BW), Vector256 (AVX2), 128-bit (one kernel over <see cref="IByteDot128"/>: ARM64 SDOT, or
/// portable SSE/AdvSimd), scalar — dispatched widest-first.
/// </summary>
internal static unsafe class PackedDot
{
    private const float TwoPow112 = (float)(1UL << 56) * (1UL << 56); // a constant, not a static field: see KernelStatics

    /// <summary>
    /// Four fp16 scales → float, exactly for every finite value: <see cref="VnniDot.Half8"/>'s sign extension, shift, mask
    /// and one power-of-two multiply, at 128 bits (portable: ARM64's row quads read their scales through here too).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Half4(ushort* p)
    {
        var h = Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(ulong*)p).AsInt16());
        return ((h << 13) & Vector128.Create(unchecked((int)0x8FFFE000))).AsSingle() * Vector128.Create(TwoPow112);
    }

    // ---------------------------------------------------------------- Q4_0

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Q4(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x)
    {
        if (Avx512BW.IsSupported) return Q4Avx512(ws, wq, blocks, x);
        if (Avx2.IsSupported && Fma.IsSupported) return Q4Avx2(ws, wq, blocks, x);
        if (SdotByteDot128.IsSupported) return Q4Dp(ws, wq, blocks, x);
        if (Vector128.IsHardwareAccelerated) return Q4V128(ws, wq, blocks, x);
        return Q4Scalar(ws, wq, blocks, x, 0);
    }

    /// <summary>Σ over blocks of the exact integer Σ(q−8)·x times d_w·d_x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4Scalar(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x, int from)
    {
        float sum = 0;
        for (int b = from; b < blocks; b++)
        {
            byte* q = wq + b * 16;
            sbyte* lo = x.Lo + b * 16, hi = x.Hi + b * 16;
            int isum = -(x.Bias[b * 4] + x.Bias[b * 4 + 1] + x.Bias[b * 4 + 2] + x.Bias[b * 4 + 3]);
            for (int j = 0; j < 16; j++) isum += (q[j] & 0x0F) * lo[j] + (q[j] >> 4) * hi[j];
            sum += isum * (HalfTable.ToSingle(ws[b]) * x.D[b]);
        }
        return sum;
    }

    public static float Q4V128(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x) => Q4Lanes128<PortableByteDot128>(ws, wq, blocks, x);
    public static float Q4Dp(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x) => Q4Lanes128<SdotByteDot128>(ws, wq, blocks, x);

    /// <summary>Q4_0 row · Q8_0 activations, 16 bytes at a time (<typeparamref name="TDot"/>: ARM64 SDOT or portable); two accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Q4Lanes128<TDot>(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x) where TDot : struct, IByteDot128
    {
        var acc0 = Vector128<float>.Zero;
        var acc1 = Vector128<float>.Zero;
        var mask = Vector128.Create((byte)0x0F);
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            var d = Half4(ws + b) * Vector128.Load(x.D + b);
            acc0 = TDot.MultiplyAdd(acc0, Vector128.ConvertToSingle(Q4Block128<TDot>(wq, x, b, mask)), Vector128.Create(d.GetElement(0)));
            acc1 = TDot.MultiplyAdd(acc1, Vector128.ConvertToSingle(Q4Block128<TDot>(wq, x, b + 1, mask)), Vector128.Create(d.GetElement(1)));
            acc0 = TDot.MultiplyAdd(acc0, Vector128.ConvertToSingle(Q4Block128<TDot>(wq, x, b + 2, mask)), Vector128.Create(d.GetElement(2)));
            acc1 = TDot.MultiplyAdd(acc1, Vector128.ConvertToSingle(Q4Block128<TDot>(wq, x, b + 3, mask)), Vector128.Create(d.GetElement(3)));
        }
        return Vector128.Sum(acc0 + acc1) + Q4Scalar(ws, wq, blocks, x, b);
    }

    /// <summary>
    /// Block <paramref name="b"/>'s exact Σ(q−8)·x in four int32 lanes: starts at −Bias, then the low and the high
    /// nibbles (0–15, valid signed bytes). The lanes need not match the bias lanes; the block total is exact.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Q4Block128<TDot>(byte* wq, in PackedActivations.Token x, int b, Vector128<byte> mask) where TDot : struct, IByteDot128 =>
        Q4Block128<TDot>(Vector128.Load(wq + b * 16), x, b, mask);

    /// <summary><see cref="Q4Block128{TDot}(byte*, in PackedActivations.Token, int, Vector128{byte})"/> with the block's quants loaded (the tiles share one load).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> Q4Block128<TDot>(Vector128<byte> v, in PackedActivations.Token x, int b, Vector128<byte> mask) where TDot : struct, IByteDot128
    {
        var start = Vector128<int>.Zero - Vector128.Load(x.Bias + b * 4);
        var lo = TDot.Dot(start, (v & mask).AsSByte(), Vector128.Load(x.Lo + b * 16));
        return TDot.Dot(lo, Vector128.ShiftRightLogical(v, 4).AsSByte(), Vector128.Load(x.Hi + b * 16));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4Avx2(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x)
    {
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        var mask = Vector256.Create((byte)0x0F);
        var ones = Vector256.Create((short)1);
        var idx01 = Vector256.Create(0, 0, 0, 0, 1, 1, 1, 1);
        var idx23 = Vector256.Create(2, 2, 2, 2, 3, 3, 3, 3);
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            var v0 = Vector256.Load(wq + b * 16);
            var v1 = Vector256.Load(wq + b * 16 + 32);
            var p0 = Avx2.MultiplyAddAdjacent(v0 & mask, Vector256.Load(x.Lo + b * 16))
                   + Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(v0.AsUInt16(), 4).AsByte() & mask, Vector256.Load(x.Hi + b * 16));
            var p1 = Avx2.MultiplyAddAdjacent(v1 & mask, Vector256.Load(x.Lo + b * 16 + 32))
                   + Avx2.MultiplyAddAdjacent(Vector256.ShiftRightLogical(v1.AsUInt16(), 4).AsByte() & mask, Vector256.Load(x.Hi + b * 16 + 32));
            var s0 = Avx2.MultiplyAddAdjacent(p0, ones) - Vector256.Load(x.Bias + b * 4);
            var s1 = Avx2.MultiplyAddAdjacent(p1, ones) - Vector256.Load(x.Bias + b * 4 + 8);
            var d = (Half4(ws + b) * Vector128.Load(x.D + b)).ToVector256Unsafe();
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s0), Avx2.PermuteVar8x32(d, idx01), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s1), Avx2.PermuteVar8x32(d, idx23), acc1);
        }
        return Vector256.Sum(acc0 + acc1) + Q4Scalar(ws, wq, blocks, x, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4Avx512(ushort* ws, byte* wq, int blocks, in PackedActivations.Token x)
    {
        var acc0 = Vector512<float>.Zero;
        var acc1 = Vector512<float>.Zero;
        var mask = Vector512.Create((byte)0x0F);
        var ones = Vector512.Create((short)1);
        var idx = Vector512.Create(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        int b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            // Software prefetch 4 KiB ahead in the quant stream (it runs on into the next rows).
            Sse.Prefetch0(wq + b * 16 + 4096);
            Sse.Prefetch0(wq + b * 16 + 4096 + 64);
            acc0 = Avx512F.FusedMultiplyAdd(Q4Quad512(wq + b * 16, x, b, mask, ones), Scales16(ws + b, idx), acc0);
            acc1 = Avx512F.FusedMultiplyAdd(Q4Quad512(wq + (b + 4) * 16, x, b + 4, mask, ones), Scales16(ws + b + 4, idx), acc1);
        }
        for (; b + 4 <= blocks; b += 4)
            acc0 = Avx512F.FusedMultiplyAdd(Q4Quad512(wq + b * 16, x, b, mask, ones), Scales16(ws + b, idx), acc0);
        return Vector512.Sum(acc0 + acc1) + Q4Scalar(ws, wq, blocks, x, b);
    }

    /// <summary>The four weight scales of a block quad, each repeated over its block's four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Scales16(ushort* ws, Vector512<int> idx) =>
        Avx512F.PermuteVar16x32(Half4(ws).ToVector256Unsafe().ToVector512Unsafe(), idx);

    /// <summary>Four blocks of one token: exact Σ(q−8)·x per lane, as float, times the activation scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Q4Quad512(byte* wq, in PackedActivations.Token x, int b, Vector512<byte> mask, Vector512<short> ones)
    {
        var (lo, hi) = Nibbles512(wq, mask);
        return Q4Quad512(lo, hi, x, b, ones);
    }

    /// <summary>Four blocks' nibbles: low nibbles (elements 0–15 of each block) and high nibbles (16–31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector512<byte> Lo, Vector512<byte> Hi) Nibbles512(byte* wq, Vector512<byte> mask)
    {
        var v = Vector512.Load(wq);
        return (v & mask, Vector512.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Q4Quad512(Vector512<byte> lo, Vector512<byte> hi, in PackedActivations.Token x, int b, Vector512<short> ones)
    {
        var p = Avx512BW.MultiplyAddAdjacent(lo, Vector512.Load(x.Lo + b * 16)) + Avx512BW.MultiplyAddAdjacent(hi, Vector512.Load(x.Hi + b * 16));
        var s = Avx512BW.MultiplyAddAdjacent(p, ones) - Vector512.Load(x.Bias + b * 4);
        return Avx512F.ConvertToVector512Single(s) * Vector512.Load(x.D16 + b * 4);
    }

    // ---------------------------------------------------------------- Q8_0

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Q8(ushort* ws, sbyte* wq, int blocks, in PackedActivations.Token x)
    {
        if (Avx512BW.IsSupported) return Q8Avx512(ws, wq, blocks, x);
        if (Avx2.IsSupported && Fma.IsSupported) return Q8Avx2(ws, wq, blocks, x);
        if (SdotByteDot128.IsSupported) return Q8Dp(ws, wq, blocks, x);
        if (Vector128.IsHardwareAccelerated) return Q8V128(ws, wq, blocks, x);
        return Q8Scalar(ws, wq, blocks, x, 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q8Scalar(ushort* ws, sbyte* wq, int blocks, in PackedActivations.Token x, int from)
    {
        float sum = 0;
        for (int b = from; b < blocks; b++)
        {
            sbyte* q = wq + b * 32;
            short* xs = x.X16 + b * 32;
            int isum = 0;
            for (int j = 0; j < 32; j++) isum += q[j] * xs[j];
            sum += isum * (HalfTable.ToSingle(ws[b]) * x.D[b]);
        }
        return sum;
    }

    public static float Q8V128(ushort* ws, sbyte* wq, int blocks, in PackedActivations.Token x) => Q8Lanes128<PortableByteDot128>(ws, wq, blocks, x);
    public static float Q8Dp(ushort* ws, sbyte* wq, int blocks, in PackedActivations.Token x) => Q8Lanes128<SdotByteDot128>(ws, wq, blocks, x);

    /// <summary>Q8_0 row · Q8_0 activations (X8), 16 bytes at a time (<typeparamref name="TDot"/>); two accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Q8Lanes128<TDot>(ushort* ws, sbyte* wq, int blocks, in PackedActivations.Token x) where TDot : struct, IByteDot128
    {
        var acc0 = Vector128<float>.Zero;
        var acc1 = Vector128<float>.Zero;
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            var d = Half4(ws + b) * Vector128.Load(x.D + b);
            acc0 = TDot.MultiplyAdd(acc0, Vector128.ConvertToSingle(Q8Block128<TDot>(wq, x, b)), Vector128.Create(d.GetElement(0)));
            acc1 = TDot.MultiplyAdd(acc1, Vector128.ConvertToSingle(Q8Block128<TDot>(wq, x, b + 1)), Vector128.Create(d.GetElement(1)));
            acc0 = TDot.MultiplyAdd(acc0, Vector128.ConvertToSingle(Q8Block128<TDot>(wq, x, b + 2)), Vector128.Create(d.GetElement(2)));
            acc1 = TDot.MultiplyAdd(acc1, Vector128.ConvertToSingle(Q8Block128<TDot>(wq, x, b + 3)), Vector128.Create(d.GetElement(3)));
        }
        return Vector128.Sum(acc0 + acc1) + Q8Scalar(ws, wq, blocks, x, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Q8Block128<TDot>(sbyte* wq, in PackedActivations.Token x, int b) where TDot : struct, IByteDot128 =>
        Q8Block128<TDot>(Vector128.Load(wq + b * 32), Vector128.Load(wq + b * 32 + 16), x, b);

    /// <summary>Block b's exact Σ q·x with its 32 quants loaded (<paramref name="lo"/>, <paramref name="hi"/>; the tiles share the loads).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> Q8Block128<TDot>(Vector128<sbyte> lo, Vector128<sbyte> hi, in PackedActivations.Token x, int b) where TDot : struct, IByteDot128
    {
        sbyte* a = x.X8 + b * 32;
        return TDot.Dot(TDot.Dot(Vector128<int>.Zero, lo, Vector128.Load(a)), hi, Vector128.Load(a + 16));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q8Avx2(ushort* ws, sbyte* wq, int blocks, in PackedActivations.Token x)
    {
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            var d = (Half4(ws + b) * Vector128.Load(x.D + b)).ToVector256Unsafe();
            for (int k = 0; k < 4; k += 2)
            {
                acc0 = Fma.MultiplyAdd(Q8Block256(wq + (b + k) * 32, x.X16 + (b + k) * 32), Avx2.PermuteVar8x32(d, Vector256.Create(k)), acc0);
                acc1 = Fma.MultiplyAdd(Q8Block256(wq + (b + k + 1) * 32, x.X16 + (b + k + 1) * 32), Avx2.PermuteVar8x32(d, Vector256.Create(k + 1)), acc1);
            }
        }
        return Vector256.Sum(acc0 + acc1) + Q8Scalar(ws, wq, blocks, x, b);
    }

    // 32 int8 weights widened to int16 × 32 int16 activations → 8 float partial sums (exact int32 first).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q8Block256(sbyte* q, short* xs) =>
        Avx.ConvertToVector256Single(
            Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(q)), Vector256.Load(xs))
          + Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(Vector128.Load(q + 16)), Vector256.Load(xs + 16)));

    /// <summary>
    /// Q8_0 on AVX-512BW: VPMADDUBSW needs an unsigned operand, so each weight byte w is used as |w| and the activation
    /// byte as x·sign(w) (picked from X8 or NX8 by a mask; EVEX has no VPSIGNB). Pairs |w|·(±x) fit int16 (≤ 128·127·2),
    /// VPMADDWD by ones sums four products per int32 lane — 64 values (two blocks) per instruction pair instead of 32.
    /// Lanes 0–7 belong to the first block, 8–15 to the second; (Σ as float × d_x) × d_w per lane, blocks in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q8Avx512(ushort* ws, sbyte* wq, int blocks, in PackedActivations.Token x)
    {
        var acc = Vector512<float>.Zero;
        var ones = Vector512.Create((short)1);
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            Sse.Prefetch0(wq + b * 32 + 4096);
            Sse.Prefetch0(wq + b * 32 + 4096 + 64);
            var (dw01, dw23) = Scales8x2(ws + b);
            var (a0, n0) = SignSplit(wq + b * 32);
            var (a1, n1) = SignSplit(wq + b * 32 + 64);
            acc = Avx512F.FusedMultiplyAdd(Q8Pair512(a0, n0, x.X8 + b * 32, x.NX8 + b * 32, x.D8 + b * 8, ones), dw01, acc);
            acc = Avx512F.FusedMultiplyAdd(Q8Pair512(a1, n1, x.X8 + b * 32 + 64, x.NX8 + b * 32 + 64, x.D8 + b * 8 + 16, ones), dw23, acc);
        }
        return Vector512.Sum(acc) + Q8Scalar(ws, wq, blocks, x, b);
    }

    /// <summary>Weight scales of blocks b..b+3 as two registers: (d0×8, d1×8) and (d2×8, d3×8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector512<float>, Vector512<float>) Scales8x2(ushort* ws)
    {
        var d = Half4(ws).ToVector256Unsafe().ToVector512Unsafe();
        return (Avx512F.PermuteVar16x32(d, Vector512.Create(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)),
                Avx512F.PermuteVar16x32(d, Vector512.Create(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3)));
    }

    /// <summary>64 weight bytes (two blocks) as |w| and the mask of negative weights.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector512<byte> Abs, Vector512<sbyte> Negative) SignSplit(sbyte* wq)
    {
        var w = Vector512.Load(wq);
        return (Avx512BW.Abs(w), Vector512.LessThan(w, Vector512<sbyte>.Zero));
    }

    /// <summary>Two blocks of one token: exact Σw·x per lane (four products each), as float, times the activation scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Q8Pair512(Vector512<byte> abs, Vector512<sbyte> negative, sbyte* x8, sbyte* nx8, float* d8, Vector512<short> ones)
    {
        var xs = Vector512.ConditionalSelect(negative, Vector512.Load(nx8), Vector512.Load(x8));
        var s = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(abs, xs), ones);
        return Avx512F.ConvertToVector512Single(s) * Vector512.Load(d8);
    }
}
