using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Dot products of one K-quant weight row (the file's own layout, read through the mapping: no repacking) with a
/// token's Q8_K activations. Per super-block the integer sum is exact: unsigned quants × signed activations
/// multiply-added in pairs, times the sub-block scale (int16 multiply-add), accumulated in int32; the Q4_K/Q5_K mins
/// and Q6_K's −32 offset come from the activation block sums. Each super-block's integer sum is then scaled by the
/// fp16 super-block scale × the activation scale in float (for Q4_K/Q5_K minus dmin × Σ min·bsum).
/// Paths: Vector512 (AVX-512BW), Vector256 (AVX2), 128-bit (one kernel over <see cref="IByteDot128"/>: ARM64 SDOT, or
/// portable SSE/AdvSimd), scalar — dispatched widest-first,
/// each tested against <see cref="KQuantVecDotReference"/>.
/// </summary>
internal static unsafe class KQuantDot
{
    // Byte offsets inside the blocks, defined on the block structs (BlockLayoutTests checks them against the layout).
    internal const int Q8Bytes = BlockQ8_K.Bytes, Q8Qs = BlockQ8_K.QsOffset, Q8BSums = BlockQ8_K.BSumsOffset;
    internal const int Q4Bytes = BlockQ4_K.Bytes, Q4Scales = BlockQ4_K.ScalesOffset, Q4Qs = BlockQ4_K.QsOffset;
    internal const int Q5Bytes = BlockQ5_K.Bytes, Q5Scales = BlockQ5_K.ScalesOffset, Q5Qh = BlockQ5_K.QhOffset, Q5Qs = BlockQ5_K.QsOffset;
    internal const int Q6Bytes = BlockQ6_K.Bytes, Q6Qh = BlockQ6_K.QhOffset, Q6Scales = BlockQ6_K.ScalesOffset, Q6D = BlockQ6_K.DOffset;

    /// <summary>True for the weight types this class multiplies.</summary>
    public static bool Handles(GgmlType type) => type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>Row <paramref name="w"/> (<paramref name="blocks"/> super-blocks) · Q8_K activations <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(GgmlType type, byte* w, int blocks, byte* x) => type switch
    {
        GgmlType.Q4_K => Q4K(w, blocks, x),
        GgmlType.Q5_K => Q5K(w, blocks, x),
        GgmlType.Q6_K => Q6K(w, blocks, x),
        _ => throw new NotSupportedException($"{type} is not a K-quant."),
    };

    public static float Q4K(byte* w, int blocks, byte* x)
    {
        if (Avx512BW.IsSupported) return Q4KAvx512(w, blocks, x);
        if (Avx2.IsSupported && Fma.IsSupported) return Q4KAvx2(w, blocks, x);
        if (SdotByteDot128.IsSupported) return Q4KDp(w, blocks, x);
        if (Vector128.IsHardwareAccelerated) return Q4KV128(w, blocks, x);
        return Q4KScalar(w, blocks, x);
    }

    public static float Q5K(byte* w, int blocks, byte* x)
    {
        if (Avx512BW.IsSupported) return Q5KAvx512(w, blocks, x);
        if (Avx2.IsSupported && Fma.IsSupported) return Q5KAvx2(w, blocks, x);
        if (SdotByteDot128.IsSupported) return Q5KDp(w, blocks, x);
        if (Vector128.IsHardwareAccelerated) return Q5KV128(w, blocks, x);
        return Q5KScalar(w, blocks, x);
    }

    public static float Q6K(byte* w, int blocks, byte* x)
    {
        if (Avx512BW.IsSupported) return Q6KAvx512(w, blocks, x);
        if (Avx2.IsSupported && Fma.IsSupported) return Q6KAvx2(w, blocks, x);
        if (SdotByteDot128.IsSupported) return Q6KDp(w, blocks, x);
        if (Vector128.IsHardwareAccelerated) return Q6KV128(w, blocks, x);
        return Q6KScalar(w, blocks, x);
    }

    /// <summary>
    /// The eight 6-bit scales and eight mins of a Q4_K/Q5_K super-block, one per byte, from the twelve packed bytes
    /// with whole-word masks: scales 0–3 and mins 0–3 are the low six bits of bytes 0–3 and 4–7; scales and mins 4–7
    /// take their low nibbles from bytes 8–11 and their top two bits from the top bits of bytes 0–3 and 4–7.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (ulong Scales, ulong Mins) UnpackScales(byte* s)
    {
        uint w0 = Unsafe.ReadUnaligned<uint>(s), w1 = Unsafe.ReadUnaligned<uint>(s + 4), w2 = Unsafe.ReadUnaligned<uint>(s + 8);
        uint scLo = w0 & 0x3F3F3F3Fu, mLo = w1 & 0x3F3F3F3Fu;
        uint scHi = (w2 & 0x0F0F0F0Fu) | (((w0 >> 6) & 0x03030303u) << 4);
        uint mHi = ((w2 >> 4) & 0x0F0F0F0Fu) | (((w1 >> 6) & 0x03030303u) << 4);
        return (scLo | (ulong)scHi << 32, mLo | (ulong)mHi << 32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Half(byte* p) => HalfTable.ToSingle(Unsafe.ReadUnaligned<ushort>(p));

    /// <summary>Σ_j min_j · (bsums[2j] + bsums[2j+1]) for one Q8_K block (scalar).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int MinSum(ulong mins, short* bs)
    {
        int s = 0;
        for (int j = 0; j < 8; j++) s += (int)((mins >> (8 * j)) & 0xFF) * (bs[2 * j] + bs[2 * j + 1]);
        return s;
    }

    /// <summary>Σ_j min_j · (bsums[2j] + bsums[2j+1]) as four int32 partial sums (SSSE3 horizontal add of pairs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> MinSum128(ulong mins, short* bs)
    {
        var pairs = Ssse3.HorizontalAdd(Vector128.Load(bs), Vector128.Load(bs + 8));
        var m16 = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(mins).AsByte());
        return Sse2.MultiplyAddAdjacent(m16, pairs);
    }

    // ---------------------------------------------------------------- Q4_K and Q5_K
    // One kernel per ISA for both types: TBits says whether a fifth bit (Q5_K's qh plane) is or-ed into each nibble.
    // Each is compiled per type, so the Q4_K code has no trace of the fifth bit.

    /// <summary>Bytes per super-block of the Q4_K (<see cref="FourBits"/>) or Q5_K (<see cref="FiveBits"/>) row.</summary>
    private static int QmKBytes<TBits>() where TBits : struct, IQuantBits => typeof(TBits) == typeof(FiveBits) ? Q5Bytes : Q4Bytes;

    /// <summary>Offset of the twelve packed scale/min bytes in a super-block.</summary>
    private static int QmKScales<TBits>() where TBits : struct, IQuantBits => typeof(TBits) == typeof(FiveBits) ? Q5Scales : Q4Scales;

    /// <summary>Offset of the packed nibbles in a super-block.</summary>
    private static int QmKQs<TBits>() where TBits : struct, IQuantBits => typeof(TBits) == typeof(FiveBits) ? Q5Qs : Q4Qs;

    private static bool Five<TBits>() where TBits : struct, IQuantBits => typeof(TBits) == typeof(FiveBits);

    public static float Q4KScalar(byte* w, int blocks, byte* x) => QmKScalar<FourBits>(w, blocks, x);
    public static float Q5KScalar(byte* w, int blocks, byte* x) => QmKScalar<FiveBits>(w, blocks, x);
    public static float Q4KV128(byte* w, int blocks, byte* x) => QmK128<FourBits, PortableByteDot128>(w, blocks, x);
    public static float Q5KV128(byte* w, int blocks, byte* x) => QmK128<FiveBits, PortableByteDot128>(w, blocks, x);
    public static float Q4KDp(byte* w, int blocks, byte* x) => QmK128<FourBits, SdotByteDot128>(w, blocks, x);
    public static float Q5KDp(byte* w, int blocks, byte* x) => QmK128<FiveBits, SdotByteDot128>(w, blocks, x);
    public static float Q4KAvx2(byte* w, int blocks, byte* x) => QmKAvx2<FourBits>(w, blocks, x);
    public static float Q5KAvx2(byte* w, int blocks, byte* x) => QmKAvx2<FiveBits>(w, blocks, x);
    public static float Q4KAvx512(byte* w, int blocks, byte* x) => QmKAvx512<FourBits>(w, blocks, x);
    public static float Q5KAvx512(byte* w, int blocks, byte* x) => QmKAvx512<FiveBits>(w, blocks, x);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float QmKScalar<TBits>(byte* w, int blocks, byte* x) where TBits : struct, IQuantBits
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * QmKBytes<TBits>(), xb = x + (long)b * Q8Bytes;
            var (sc, mn) = UnpackScales(wb + QmKScales<TBits>());
            byte* q = wb + QmKQs<TBits>(), qh = wb + Q5Qh;
            sbyte* a = (sbyte*)(xb + Q8Qs);
            int isum = 0;
            for (int j = 0; j < 8; j++)
            {
                int c = j >> 1, shift = 4 * (j & 1), sub = 0;
                for (int i = 0; i < 32; i++)
                {
                    int v = (q[32 * c + i] >> shift) & 0xF;
                    if (Five<TBits>()) v |= ((qh[i] >> j) & 1) << 4;
                    sub += v * a[32 * j + i];
                }
                isum += (int)((sc >> (8 * j)) & 0xFF) * sub;
            }
            float dx = *(float*)xb;
            sum += Half(wb) * dx * isum - Half(wb + 2) * dx * MinSum(mn, (short*)(xb + Q8BSums));
        }
        return sum;
    }

    /// <summary>Q4_K/Q5_K, 16 bytes at a time over <typeparamref name="TDot"/> (ARM64 SDOT or portable Vector128).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float QmK128<TBits, TDot>(byte* w, int blocks, byte* x) where TBits : struct, IQuantBits where TDot : struct, IByteDot128
    {
        var acc = Vector128<float>.Zero;
        float mins = 0;
        var mask = Vector128.Create((byte)0x0F);
        var sixteen = Vector128.Create((byte)0x10);
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * QmKBytes<TBits>(), xb = x + (long)b * Q8Bytes;
            var (sc, mn) = UnpackScales(wb + QmKScales<TBits>());
            byte* q = wb + QmKQs<TBits>();
            sbyte* a = (sbyte*)(xb + Q8Qs);
            var h0 = Five<TBits>() ? Vector128.Load(wb + Q5Qh) : default;
            var h1 = Five<TBits>() ? Vector128.Load(wb + Q5Qh + 16) : default;
            var isum = Vector128<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                Chunk128<TBits>(q, h0, h1, c, mask, sixteen, out var lo0, out var lo1, out var hi0, out var hi1);
                var lo = TDot.Dot(TDot.Dot(Vector128<int>.Zero, lo0.AsSByte(), Vector128.Load(a + 64 * c)), lo1.AsSByte(), Vector128.Load(a + 64 * c + 16));
                var hi = TDot.Dot(TDot.Dot(Vector128<int>.Zero, hi0.AsSByte(), Vector128.Load(a + 64 * c + 32)), hi1.AsSByte(), Vector128.Load(a + 64 * c + 48));
                isum += lo * Vector128.Create((int)((sc >> (16 * c)) & 0xFF)) + hi * Vector128.Create((int)((sc >> (16 * c + 8)) & 0xFF));
            }
            float dx = *(float*)xb;
            acc = TDot.MultiplyAdd(acc, Vector128.ConvertToSingle(isum), Vector128.Create(Half(wb) * dx));
            mins += Half(wb + 2) * dx * MinSum(mn, (short*)(xb + Q8BSums));
        }
        return Vector128.Sum(acc) - mins;
    }

    /// <summary>
    /// Chunk <paramref name="c"/> (64 weights) of a Q4_K/Q5_K super-block's quants at <paramref name="q"/> as four
    /// 16-byte vectors of values 0–15 (Q4_K) or 0–31 (Q5_K, the fifth bits from <paramref name="h0"/>/<paramref name="h1"/>):
    /// the low nibbles of its 32 bytes (elements 64c…64c+31), then the high nibbles (64c+32…64c+63).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Chunk128<TBits>(byte* q, Vector128<byte> h0, Vector128<byte> h1, int c, Vector128<byte> mask, Vector128<byte> sixteen,
        out Vector128<byte> lo0, out Vector128<byte> lo1, out Vector128<byte> hi0, out Vector128<byte> hi1) where TBits : struct, IQuantBits
    {
        var v0 = Vector128.Load(q + 32 * c);
        var v1 = Vector128.Load(q + 32 * c + 16);
        lo0 = v0 & mask;
        lo1 = v1 & mask;
        hi0 = Vector128.ShiftRightLogical(v0, 4);
        hi1 = Vector128.ShiftRightLogical(v1, 4);
        if (Five<TBits>())
        {
            var m1 = Vector128.Create((byte)(1 << (2 * c)));
            var m2 = Vector128.Create((byte)(2 << (2 * c)));
            lo0 |= Vector128.Equals(h0 & m1, m1) & sixteen;
            lo1 |= Vector128.Equals(h1 & m1, m1) & sixteen;
            hi0 |= Vector128.Equals(h0 & m2, m2) & sixteen;
            hi1 |= Vector128.Equals(h1 & m2, m2) & sixteen;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float QmKAvx2<TBits>(byte* w, int blocks, byte* x) where TBits : struct, IQuantBits
    {
        var acc = Vector256<float>.Zero;
        var accMin = Vector128<float>.Zero;
        var mask = Vector256.Create((byte)0x0F);
        var sixteen = Vector256.Create((byte)0x10);
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * QmKBytes<TBits>(), xb = x + (long)b * Q8Bytes;
            var (sc, mn) = UnpackScales(wb + QmKScales<TBits>());
            byte* q = wb + QmKQs<TBits>();
            sbyte* a = (sbyte*)(xb + Q8Qs);
            var h = Five<TBits>() ? Vector256.Load(wb + Q5Qh) : default;
            var isum = Vector256<int>.Zero;
            for (int c = 0; c < 4; c++)
            {
                var v = Vector256.Load(q + 32 * c);
                var lo = v & mask;
                var hi = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & mask;
                if (Five<TBits>())
                {
                    var m1 = Vector256.Create((byte)(1 << (2 * c)));
                    var m2 = Vector256.Create((byte)(2 << (2 * c)));
                    lo |= Vector256.Equals(h & m1, m1) & sixteen;
                    hi |= Vector256.Equals(h & m2, m2) & sixteen;
                }
                var plo = Avx2.MultiplyAddAdjacent(lo, Vector256.Load(a + 64 * c));
                var phi = Avx2.MultiplyAddAdjacent(hi, Vector256.Load(a + 64 * c + 32));
                isum += Avx2.MultiplyAddAdjacent(plo, Vector256.Create((short)((sc >> (16 * c)) & 0xFF)))
                      + Avx2.MultiplyAddAdjacent(phi, Vector256.Create((short)((sc >> (16 * c + 8)) & 0xFF)));
            }
            float dx = *(float*)xb;
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(isum), Vector256.Create(Half(wb) * dx), acc);
            accMin = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(MinSum128(mn, (short*)(xb + Q8BSums))), Vector128.Create(Half(wb + 2) * dx), accMin);
        }
        return Vector256.Sum(acc) - Vector128.Sum(accMin);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float QmKAvx512<TBits>(byte* w, int blocks, byte* x) where TBits : struct, IQuantBits
    {
        var acc = Vector512<float>.Zero;
        var accMin = Vector128<float>.Zero;
        var mask = Vector512.Create((byte)0x0F);
        var sixteen = Vector512.Create((byte)0x10);
        // Chunk c's 64 products: lanes 0–15 belong to sub-block 2c, lanes 16–31 to 2c+1.
        var i0 = Idx16[0]; var i1 = Idx16[1]; var i2 = Idx16[2]; var i3 = Idx16[3];
        // Fifth-bit masks of chunk c: bit 2c for its first 32 elements, bit 2c+1 for the next 32.
        var b0 = HighBits[0]; var b1 = HighBits[1]; var b2 = HighBits[2]; var b3 = HighBits[3];
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * QmKBytes<TBits>(), xb = x + (long)b * Q8Bytes;
            Sse.Prefetch0(wb + 1024);
            var (sc, mn) = UnpackScales(wb + QmKScales<TBits>());
            var s = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(sc).AsByte()).ToVector256Unsafe().ToVector512Unsafe();
            var h = Five<TBits>() ? Vector512.Create(Vector256.Load(wb + Q5Qh), Vector256.Load(wb + Q5Qh)) : default;
            byte* q = wb + QmKQs<TBits>();
            sbyte* a = (sbyte*)(xb + Q8Qs);
            var isum = QmKChunk512<TBits>(q, a, h, b0, mask, sixteen, Avx512BW.PermuteVar32x16(s, i0))
                     + QmKChunk512<TBits>(q + 32, a + 64, h, b1, mask, sixteen, Avx512BW.PermuteVar32x16(s, i1))
                     + QmKChunk512<TBits>(q + 64, a + 128, h, b2, mask, sixteen, Avx512BW.PermuteVar32x16(s, i2))
                     + QmKChunk512<TBits>(q + 96, a + 192, h, b3, mask, sixteen, Avx512BW.PermuteVar32x16(s, i3));
            float dx = *(float*)xb;
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(isum), Vector512.Create(Half(wb) * dx), acc);
            accMin = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(MinSum128(mn, (short*)(xb + Q8BSums))), Vector128.Create(Half(wb + 2) * dx), accMin);
        }
        return Vector512.Sum(acc) - Vector128.Sum(accMin);
    }

    // Constant shuffle/permute operands, built once (not per call: a row is only a few super-blocks long).
    internal static readonly Vector512<short>[] Idx16 = [ScaleIndex(0, 16), ScaleIndex(2, 16), ScaleIndex(4, 16), ScaleIndex(6, 16)];
    internal static readonly Vector512<short>[] Idx8 = [ScaleIndex(0, 8), ScaleIndex(4, 8), ScaleIndex(8, 8), ScaleIndex(12, 8)];
    internal static readonly Vector512<byte>[] HighBits = [HighBitMask(0), HighBitMask(1), HighBitMask(2), HighBitMask(3)];
    private static readonly Vector256<byte>[] Pairs = [ScalePair(0), ScalePair(1), ScalePair(2), ScalePair(3)];

    /// <summary>Permutation indices repeating scale <c>first + lane / group</c> over the 32 int16 lanes.</summary>
    private static Vector512<short> ScaleIndex(int first, int group)
    {
        var idx = Vector512<short>.Zero;
        for (int lane = 0; lane < 32; lane++) idx = idx.WithElement(lane, (short)(first + lane / group));
        return idx;
    }

    private static Vector512<byte> HighBitMask(int c) =>
        Vector512.Create(Vector256.Create((byte)(1 << (2 * c))), Vector256.Create((byte)(2 << (2 * c))));

    // One chunk of 64: 32 bytes of nibbles (low = first 32 elements, high = next 32), with Q5_K's fifth bits, against 64 activations.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> QmKChunk512<TBits>(byte* q, sbyte* a, Vector512<byte> h, Vector512<byte> bit, Vector512<byte> mask, Vector512<byte> sixteen,
        Vector512<short> scales) where TBits : struct, IQuantBits
    {
        var v = Vector256.Load(q);
        var nib = Vector512.Create(v, Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte()) & mask;
        if (Five<TBits>()) nib |= Vector512.Equals(h & bit, bit) & sixteen;
        return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(nib, Vector512.Load(a)), scales);
    }

    // ---------------------------------------------------------------- Q6_K

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6KScalar(byte* w, int blocks, byte* x)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * Q6Bytes, xb = x + (long)b * Q8Bytes;
            sbyte* sc = (sbyte*)(wb + Q6Scales);
            sbyte* a = (sbyte*)(xb + Q8Qs);
            int isum = 0;
            for (int h = 0; h < 2; h++)
            {
                byte* ql = wb + 64 * h, qh = wb + Q6Qh + 32 * h;
                for (int quarter = 0; quarter < 4; quarter++)
                    for (int half16 = 0; half16 < 2; half16++)
                    {
                        int sub = 0;
                        for (int i = 16 * half16; i < 16 * half16 + 16; i++)
                        {
                            byte l = ql[i + 32 * (quarter & 1)];
                            int q = (quarter < 2 ? l & 0xF : l >> 4) | (((qh[i] >> (2 * quarter)) & 3) << 4);
                            sub += (q - 32) * a[128 * h + 32 * quarter + i];
                        }
                        isum += sc[8 * h + 2 * quarter + half16] * sub;
                    }
            }
            sum += Half(wb + Q6D) * *(float*)xb * isum;
        }
        return sum;
    }

    public static float Q6KV128(byte* w, int blocks, byte* x) => Q6K128<PortableByteDot128>(w, blocks, x);
    public static float Q6KDp(byte* w, int blocks, byte* x) => Q6K128<SdotByteDot128>(w, blocks, x);

    /// <summary>Q6_K, 16 bytes at a time over <typeparamref name="TDot"/> (ARM64 SDOT or portable Vector128).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Q6K128<TDot>(byte* w, int blocks, byte* x) where TDot : struct, IByteDot128
    {
        var acc = Vector128<float>.Zero;
        var mask = Vector128.Create((byte)0x0F);
        var top = Vector128.Create((byte)0x30);
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * Q6Bytes, xb = x + (long)b * Q8Bytes;
            sbyte* sc = (sbyte*)(wb + Q6Scales);
            sbyte* a = (sbyte*)(xb + Q8Qs);
            short* bs = (short*)(xb + Q8BSums);
            int offset = 0;
            for (int j = 0; j < 16; j++) offset += sc[j] * bs[j];
            var isum = Vector128.Create(-32 * offset, 0, 0, 0);
            for (int h = 0; h < 2; h++)
                for (int half16 = 0; half16 < 2; half16++)
                {
                    // 16 consecutive l of this half: four groups of 16 elements (l, l+32, l+64, l+96).
                    byte* ql = wb + 64 * h + 16 * half16;
                    var l0 = Vector128.Load(ql);
                    var l1 = Vector128.Load(ql + 32);
                    var hb = Vector128.Load(wb + Q6Qh + 32 * h + 16 * half16);
                    var q0 = (l0 & mask) | (Vector128.ShiftLeft(hb, 4) & top);
                    var q1 = (l1 & mask) | (Vector128.ShiftLeft(hb, 2) & top);
                    var q2 = Vector128.ShiftRightLogical(l0, 4) | (hb & top);
                    var q3 = Vector128.ShiftRightLogical(l1, 4) | (Vector128.ShiftRightLogical(hb, 2) & top);
                    sbyte* ab = a + 128 * h + 16 * half16;
                    int s0 = 8 * h + half16;
                    isum += TDot.Dot(Vector128<int>.Zero, q0.AsSByte(), Vector128.Load(ab)) * Vector128.Create((int)sc[s0])
                          + TDot.Dot(Vector128<int>.Zero, q1.AsSByte(), Vector128.Load(ab + 32)) * Vector128.Create((int)sc[s0 + 2])
                          + TDot.Dot(Vector128<int>.Zero, q2.AsSByte(), Vector128.Load(ab + 64)) * Vector128.Create((int)sc[s0 + 4])
                          + TDot.Dot(Vector128<int>.Zero, q3.AsSByte(), Vector128.Load(ab + 96)) * Vector128.Create((int)sc[s0 + 6]);
                }
            acc = TDot.MultiplyAdd(acc, Vector128.ConvertToSingle(isum), Vector128.Create(Half(wb + Q6D) * *(float*)xb));
        }
        return Vector128.Sum(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6KAvx2(byte* w, int blocks, byte* x)
    {
        var acc = Vector256<float>.Zero;
        var mask = Vector256.Create((byte)0x0F);
        var top = Vector256.Create((byte)0x30);
        // pshufb patterns: in the low 128-bit lane scale 2k of the half (int16 bytes 4k, 4k+1) repeated, in the high lane scale 2k+1.
        var p0 = Pairs[0]; var p1 = Pairs[1]; var p2 = Pairs[2]; var p3 = Pairs[3];
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * Q6Bytes, xb = x + (long)b * Q8Bytes;
            var sc16 = Avx2.ConvertToVector256Int16((sbyte*)(wb + Q6Scales));
            var isum = Vector256<int>.Zero - Vector256.ShiftLeft(Avx2.MultiplyAddAdjacent(sc16, Vector256.Load((short*)(xb + Q8BSums))), 5);
            sbyte* a = (sbyte*)(xb + Q8Qs);
            for (int h = 0; h < 2; h++)
            {
                byte* ql = wb + 64 * h;
                var l0 = Vector256.Load(ql);
                var l1 = Vector256.Load(ql + 32);
                var hb = Vector256.Load(wb + Q6Qh + 32 * h).AsUInt16();
                var s = h == 0 ? Vector256.Create(sc16.GetLower(), sc16.GetLower()).AsByte() : Vector256.Create(sc16.GetUpper(), sc16.GetUpper()).AsByte();
                var q0 = (l0 & mask) | (Vector256.ShiftLeft(hb, 4).AsByte() & top);
                var q1 = (l1 & mask) | (Vector256.ShiftLeft(hb, 2).AsByte() & top);
                var q2 = (Vector256.ShiftRightLogical(l0.AsUInt16(), 4).AsByte() & mask) | (hb.AsByte() & top);
                var q3 = (Vector256.ShiftRightLogical(l1.AsUInt16(), 4).AsByte() & mask) | (Vector256.ShiftRightLogical(hb, 2).AsByte() & top);
                sbyte* ah = a + 128 * h;
                isum += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q0, Vector256.Load(ah)), Avx2.Shuffle(s, p0).AsInt16())
                      + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, Vector256.Load(ah + 32)), Avx2.Shuffle(s, p1).AsInt16())
                      + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q2, Vector256.Load(ah + 64)), Avx2.Shuffle(s, p2).AsInt16())
                      + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q3, Vector256.Load(ah + 96)), Avx2.Shuffle(s, p3).AsInt16());
            }
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(isum), Vector256.Create(Half(wb + Q6D) * *(float*)xb), acc);
        }
        return Vector256.Sum(acc);
    }

    private static Vector256<byte> ScalePair(int k)
    {
        var p = Vector256<byte>.Zero;
        for (int i = 0; i < 32; i++) p = p.WithElement(i, (byte)(4 * k + (i >= 16 ? 2 : 0) + (i & 1)));
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6KAvx512(byte* w, int blocks, byte* x)
    {
        var acc = Vector512<float>.Zero;
        var mask = Vector512.Create((byte)0x0F);
        var top = Vector512.Create((byte)0x30);
        // 64 elements per multiply: four sub-blocks of 16, eight int16 lanes each.
        var i00 = Idx8[0]; var i01 = Idx8[1]; var i10 = Idx8[2]; var i11 = Idx8[3];
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * Q6Bytes, xb = x + (long)b * Q8Bytes;
            Sse.Prefetch0(wb + 1024);
            var sc16 = Avx2.ConvertToVector256Int16((sbyte*)(wb + Q6Scales));
            var s = sc16.ToVector512Unsafe();
            var offset = Vector256.ShiftLeft(Avx2.MultiplyAddAdjacent(sc16, Vector256.Load((short*)(xb + Q8BSums))), 5);
            sbyte* a = (sbyte*)(xb + Q8Qs);
            var isum = Q6Half512(wb, wb + Q6Qh, a, mask, top, Avx512BW.PermuteVar32x16(s, i00), Avx512BW.PermuteVar32x16(s, i01))
                     + Q6Half512(wb + 64, wb + Q6Qh + 32, a + 128, mask, top, Avx512BW.PermuteVar32x16(s, i10), Avx512BW.PermuteVar32x16(s, i11))
                     - offset.ToVector512();
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(isum), Vector512.Create(Half(wb + Q6D) * *(float*)xb), acc);
        }
        return Vector512.Sum(acc);
    }

    // Half a Q6_K block: the 64 low nibbles of ql are elements 0–63 in order, the high nibbles 64–127.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Q6Half512(byte* ql, byte* qh, sbyte* a, Vector512<byte> mask, Vector512<byte> top, Vector512<short> sLo, Vector512<short> sHi)
    {
        var l = Vector512.Load(ql);
        var hb = Vector256.Load(qh).AsUInt16();
        var hLo = Vector512.Create(Vector256.ShiftLeft(hb, 4), Vector256.ShiftLeft(hb, 2)).AsByte() & top;
        var hHi = Vector512.Create(hb, Vector256.ShiftRightLogical(hb, 2)).AsByte() & top;
        var lo = (l & mask) | hLo;
        var hi = (Vector512.ShiftRightLogical(l.AsUInt16(), 4).AsByte() & mask) | hHi;
        return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(lo, Vector512.Load(a)), sLo)
             + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(hi, Vector512.Load(a + 64)), sHi);
    }
}
