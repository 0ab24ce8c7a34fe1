using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Prompt tiles of the 128-bit K-quant kernels (ARM64 SDOT, or portable Vector128 where neither AVX2 nor DotProd runs),
/// in the file's layout: one row × four tokens. Each 64-weight chunk is loaded and unpacked (nibbles, Q5_K's fifth bit,
/// Q6_K's two top bits) once and multiplied into four tokens' integer sums. Per token the arithmetic is
/// <see cref="KQuantDot"/>'s 128-bit row kernel's: exact integer super-block sums, then the same float operations in the
/// same order (one multiply-add per super-block of d·dx, the Q4_K/Q5_K mins as a scalar sum subtracted at the end), so
/// a tile equals the row kernel bit for bit.
/// </summary>
internal static unsafe class KQuantTile128
{
    private const int Q8Bytes = KQuantDot.Q8Bytes, Q8Qs = KQuantDot.Q8Qs, Q8BSums = KQuantDot.Q8BSums;

    /// <summary>Row <paramref name="w"/> of <paramref name="type"/> · tokens t…t+3 into y[j·stride].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile4<TDot>(GgmlType type, byte* w, int blocks, KQuantActivations x, int t, float* y, long stride) where TDot : struct, IByteDot128
    {
        switch (type)
        {
            case GgmlType.Q4_K: QmK<FourBits, TDot>(w, blocks, x, t, y, stride); break;
            case GgmlType.Q5_K: QmK<FiveBits, TDot>(w, blocks, x, t, y, stride); break;
            case GgmlType.Q6_K: Q6K<TDot>(w, blocks, x, t, y, stride); break;
            default: throw new NotSupportedException($"{type} is not a K-quant.");
        }
    }

    /// <summary>Row · token, the row kernel the tile equals (<see cref="KQuantDot"/>'s 128-bit form over <typeparamref name="TDot"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Row<TDot>(GgmlType type, byte* w, int blocks, byte* x) where TDot : struct, IByteDot128 => type switch
    {
        GgmlType.Q4_K => KQuantDot.QmK128<FourBits, TDot>(w, blocks, x),
        GgmlType.Q5_K => KQuantDot.QmK128<FiveBits, TDot>(w, blocks, x),
        GgmlType.Q6_K => KQuantDot.Q6K128<TDot>(w, blocks, x),
        _ => throw new NotSupportedException($"{type} is not a K-quant."),
    };

    private static bool Five<TBits>() where TBits : struct, IQuantBits => typeof(TBits) == typeof(FiveBits);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QmK<TBits, TDot>(byte* w, int blocks, KQuantActivations x, int t, float* y, long stride)
        where TBits : struct, IQuantBits where TDot : struct, IByteDot128
    {
        int wBytes = Five<TBits>() ? KQuantDot.Q5Bytes : KQuantDot.Q4Bytes;
        int wScales = Five<TBits>() ? KQuantDot.Q5Scales : KQuantDot.Q4Scales;
        int wQs = Five<TBits>() ? KQuantDot.Q5Qs : KQuantDot.Q4Qs;
        byte* x0 = x.For(t), x1 = x.For(t + 1), x2 = x.For(t + 2), x3 = x.For(t + 3);
        Vector128<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
        var mask = Vector128.Create((byte)0x0F);
        var sixteen = Vector128.Create((byte)0x10);
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * wBytes;
            long xo = (long)b * Q8Bytes;
            var (sc, mn) = KQuantDot.UnpackScales(wb + wScales);
            byte* q = wb + wQs;
            var h0 = Five<TBits>() ? Vector128.Load(wb + KQuantDot.Q5Qh) : default;
            var h1 = Five<TBits>() ? Vector128.Load(wb + KQuantDot.Q5Qh + 16) : default;
            Vector128<int> i0 = default, i1 = default, i2 = default, i3 = default;
            for (int c = 0; c < 4; c++)
            {
                KQuantDot.Chunk128<TBits>(q, h0, h1, c, mask, sixteen, out var lo0, out var lo1, out var hi0, out var hi1);
                var sLo = Vector128.Create((int)((sc >> (16 * c)) & 0xFF));
                var sHi = Vector128.Create((int)((sc >> (16 * c + 8)) & 0xFF));
                int o = 64 * c;
                i0 += Chunk<TDot>(lo0, lo1, hi0, hi1, (sbyte*)(x0 + xo + Q8Qs) + o, sLo, sHi);
                i1 += Chunk<TDot>(lo0, lo1, hi0, hi1, (sbyte*)(x1 + xo + Q8Qs) + o, sLo, sHi);
                i2 += Chunk<TDot>(lo0, lo1, hi0, hi1, (sbyte*)(x2 + xo + Q8Qs) + o, sLo, sHi);
                i3 += Chunk<TDot>(lo0, lo1, hi0, hi1, (sbyte*)(x3 + xo + Q8Qs) + o, sLo, sHi);
            }
            float d = KQuantDot.Half(wb), dmin = KQuantDot.Half(wb + 2);
            acc0 = Scale<TDot>(acc0, i0, d, x0 + xo, mn, dmin, ref m0);
            acc1 = Scale<TDot>(acc1, i1, d, x1 + xo, mn, dmin, ref m1);
            acc2 = Scale<TDot>(acc2, i2, d, x2 + xo, mn, dmin, ref m2);
            acc3 = Scale<TDot>(acc3, i3, d, x3 + xo, mn, dmin, ref m3);
        }
        y[0] = Vector128.Sum(acc0) - m0;
        y[stride] = Vector128.Sum(acc1) - m1;
        y[2 * stride] = Vector128.Sum(acc2) - m2;
        y[3 * stride] = Vector128.Sum(acc3) - m3;
    }

    /// <summary>One 64-weight chunk's scaled integer sum against one token: lo·scale_lo + hi·scale_hi.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Chunk<TDot>(Vector128<byte> lo0, Vector128<byte> lo1, Vector128<byte> hi0, Vector128<byte> hi1, sbyte* a,
        Vector128<int> sLo, Vector128<int> sHi) where TDot : struct, IByteDot128
    {
        var lo = TDot.Dot(TDot.Dot(Vector128<int>.Zero, lo0.AsSByte(), Vector128.Load(a)), lo1.AsSByte(), Vector128.Load(a + 16));
        var hi = TDot.Dot(TDot.Dot(Vector128<int>.Zero, hi0.AsSByte(), Vector128.Load(a + 32)), hi1.AsSByte(), Vector128.Load(a + 48));
        return lo * sLo + hi * sHi;
    }

    /// <summary>The row kernel's float step for one token and super-block: acc + isum·(d·dx); mins += dmin·dx·Σ min·bsum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Scale<TDot>(Vector128<float> acc, Vector128<int> isum, float d, byte* xb, ulong mn, float dmin, ref float mins)
        where TDot : struct, IByteDot128
    {
        float dx = *(float*)xb;
        mins += dmin * dx * KQuantDot.MinSum(mn, (short*)(xb + Q8BSums));
        return TDot.MultiplyAdd(acc, Vector128.ConvertToSingle(isum), Vector128.Create(d * dx));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q6K<TDot>(byte* w, int blocks, KQuantActivations x, int t, float* y, long stride) where TDot : struct, IByteDot128
    {
        byte* x0 = x.For(t), x1 = x.For(t + 1), x2 = x.For(t + 2), x3 = x.For(t + 3);
        Vector128<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        var mask = Vector128.Create((byte)0x0F);
        var top = Vector128.Create((byte)0x30);
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * KQuantDot.Q6Bytes;
            long xo = (long)b * Q8Bytes;
            sbyte* sc = (sbyte*)(wb + KQuantDot.Q6Scales);
            var i0 = Start(sc, x0 + xo);
            var i1 = Start(sc, x1 + xo);
            var i2 = Start(sc, x2 + xo);
            var i3 = Start(sc, x3 + xo);
            for (int h = 0; h < 2; h++)
                for (int half16 = 0; half16 < 2; half16++)
                {
                    byte* ql = wb + 64 * h + 16 * half16;
                    var l0 = Vector128.Load(ql);
                    var l1 = Vector128.Load(ql + 32);
                    var hb = Vector128.Load(wb + KQuantDot.Q6Qh + 32 * h + 16 * half16);
                    var q0 = ((l0 & mask) | (Vector128.ShiftLeft(hb, 4) & top)).AsSByte();
                    var q1 = ((l1 & mask) | (Vector128.ShiftLeft(hb, 2) & top)).AsSByte();
                    var q2 = (Vector128.ShiftRightLogical(l0, 4) | (hb & top)).AsSByte();
                    var q3 = (Vector128.ShiftRightLogical(l1, 4) | (Vector128.ShiftRightLogical(hb, 2) & top)).AsSByte();
                    int s0 = 8 * h + half16, o = 128 * h + 16 * half16;
                    var c0 = Vector128.Create((int)sc[s0]);
                    var c1 = Vector128.Create((int)sc[s0 + 2]);
                    var c2 = Vector128.Create((int)sc[s0 + 4]);
                    var c3 = Vector128.Create((int)sc[s0 + 6]);
                    i0 += Group<TDot>(q0, q1, q2, q3, (sbyte*)(x0 + xo + Q8Qs) + o, c0, c1, c2, c3);
                    i1 += Group<TDot>(q0, q1, q2, q3, (sbyte*)(x1 + xo + Q8Qs) + o, c0, c1, c2, c3);
                    i2 += Group<TDot>(q0, q1, q2, q3, (sbyte*)(x2 + xo + Q8Qs) + o, c0, c1, c2, c3);
                    i3 += Group<TDot>(q0, q1, q2, q3, (sbyte*)(x3 + xo + Q8Qs) + o, c0, c1, c2, c3);
                }
            float d = KQuantDot.Half(wb + KQuantDot.Q6D);
            acc0 = TDot.MultiplyAdd(acc0, Vector128.ConvertToSingle(i0), Vector128.Create(d * *(float*)(x0 + xo)));
            acc1 = TDot.MultiplyAdd(acc1, Vector128.ConvertToSingle(i1), Vector128.Create(d * *(float*)(x1 + xo)));
            acc2 = TDot.MultiplyAdd(acc2, Vector128.ConvertToSingle(i2), Vector128.Create(d * *(float*)(x2 + xo)));
            acc3 = TDot.MultiplyAdd(acc3, Vector128.ConvertToSingle(i3), Vector128.Create(d * *(float*)(x3 + xo)));
        }
        y[0] = Vector128.Sum(acc0);
        y[stride] = Vector128.Sum(acc1);
        y[2 * stride] = Vector128.Sum(acc2);
        y[3 * stride] = Vector128.Sum(acc3);
    }

    /// <summary>Q6_K's −32 offset for one token's super-block: −32·Σ scale_j·bsum_j in lane 0, where the row kernel starts its sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Start(sbyte* sc, byte* xb)
    {
        short* bs = (short*)(xb + Q8BSums);
        int offset = 0;
        for (int j = 0; j < 16; j++) offset += sc[j] * bs[j];
        return Vector128.Create(-32 * offset, 0, 0, 0);
    }

    /// <summary>Four 16-weight groups (l, l+32, l+64, l+96 of a half) against one token, each times its sub-block scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Group<TDot>(Vector128<sbyte> q0, Vector128<sbyte> q1, Vector128<sbyte> q2, Vector128<sbyte> q3, sbyte* a,
        Vector128<int> c0, Vector128<int> c1, Vector128<int> c2, Vector128<int> c3) where TDot : struct, IByteDot128 =>
        TDot.Dot(Vector128<int>.Zero, q0, Vector128.Load(a)) * c0
      + TDot.Dot(Vector128<int>.Zero, q1, Vector128.Load(a + 32)) * c1
      + TDot.Dot(Vector128<int>.Zero, q2, Vector128.Load(a + 64)) * c2
      + TDot.Dot(Vector128<int>.Zero, q3, Vector128.Load(a + 96)) * c3;
}
