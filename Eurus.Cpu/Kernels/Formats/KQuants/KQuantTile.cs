using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Prompt processing for K-quant weights (AVX-512): one weight row against four tokens at once, so each super-block's
/// scales, mins and quants are unpacked once and used four times. The arithmetic per token is that of the one-token
/// kernels in <see cref="KQuantDot"/> (exact integer sums per super-block), only the float accumulation order differs.
/// </summary>
internal static unsafe class KQuantTile
{
    /// <summary>True where the four-token tiles run (elsewhere the matmul loops the one-token kernel over tokens).</summary>
    public static bool Supported => Avx512BW.IsSupported;

    /// <summary>
    /// y[k·yStride] = row <paramref name="w"/> · the Q8_K activations of token <paramref name="t"/> + k in
    /// <paramref name="acts"/>, for k = 0…3.
    /// </summary>
    public static void Tile4(GgmlType type, byte* w, int blocks, KQuantActivations acts, int t, float* y, long yStride)
    {
        byte* x = acts.For(t);
        long xStride = (long)acts.Blocks * KQuantDot.Q8Bytes;
        switch (type)
        {
            case GgmlType.Q4_K: QmK4(w, blocks, x, xStride, acts.Pairs(0, t), acts.Scales(0, t), acts.BlockStride, y, yStride, five: false); break;
            case GgmlType.Q5_K: QmK4(w, blocks, x, xStride, acts.Pairs(0, t), acts.Scales(0, t), acts.BlockStride, y, yStride, five: true); break;
            case GgmlType.Q6_K: Q6K4(w, blocks, x, xStride, y, yStride); break;
            default: throw new NotSupportedException($"{type} is not a K-quant.");
        }
    }

    // Q4_K and Q5_K: the same scales/mins; Q5_K adds a fifth bit to each quant.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QmK4(byte* w, int blocks, byte* x, long xStride, short* pairs, float* scales, int blockStride, float* y, long yStride, bool five)
    {
        var acc0 = Vector512<float>.Zero; var acc1 = Vector512<float>.Zero; var acc2 = Vector512<float>.Zero; var acc3 = Vector512<float>.Zero;
        // The mins of all four tokens at once: lanes 4k…4k+3 hold token k's partial Σ min·(32-element sum).
        var accMin = Vector512<float>.Zero;
        var spread = Vector512.Create(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        var mask = Vector512.Create((byte)0x0F);
        var sixteen = Vector512.Create((byte)0x10);
        var idx = KQuantDot.Idx16;
        var bits = KQuantDot.HighBits;
        int blockBytes = five ? KQuantDot.Q5Bytes : KQuantDot.Q4Bytes;
        int qsOff = five ? KQuantDot.Q5Qs : KQuantDot.Q4Qs;
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * blockBytes;
            var (sc, mn) = KQuantDot.UnpackScales(wb + KQuantDot.Q4Scales);
            var s = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(sc).AsByte()).ToVector256Unsafe().ToVector512Unsafe();
            var s0 = Avx512BW.PermuteVar32x16(s, idx[0]); var s1 = Avx512BW.PermuteVar32x16(s, idx[1]);
            var s2 = Avx512BW.PermuteVar32x16(s, idx[2]); var s3 = Avx512BW.PermuteVar32x16(s, idx[3]);
            byte* q = wb + qsOff;
            var n0 = Nibbles(q, mask); var n1 = Nibbles(q + 32, mask); var n2 = Nibbles(q + 64, mask); var n3 = Nibbles(q + 96, mask);
            if (five)
            {
                var h256 = Vector256.Load(wb + KQuantDot.Q5Qh);
                var h = Vector512.Create(h256, h256);
                n0 |= Vector512.Equals(h & bits[0], bits[0]) & sixteen;
                n1 |= Vector512.Equals(h & bits[1], bits[1]) & sixteen;
                n2 |= Vector512.Equals(h & bits[2], bits[2]) & sixteen;
                n3 |= Vector512.Equals(h & bits[3], bits[3]) & sixteen;
            }
            float d = HalfTable.ToSingle(*(ushort*)wb), dmin = HalfTable.ToSingle(*(ushort*)(wb + 2));
            byte* xb = x + (long)b * KQuantDot.Q8Bytes;
            acc0 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb, d, acc0);
            acc1 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb + xStride, d, acc1);
            acc2 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb + 2 * xStride, d, acc2);
            acc3 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb + 3 * xStride, d, acc3);
            var m16 = Vector512.Create(Sse41.ConvertToVector128Int16(Vector128.CreateScalar(mn).AsByte()));
            var msum = Avx512BW.MultiplyAddAdjacent(m16, Vector512.Load(pairs + (long)b * blockStride * 8));
            var dx = Avx512F.PermuteVar16x32(Vector128.Load(scales + (long)b * blockStride).ToVector256Unsafe().ToVector512Unsafe(), spread);
            accMin = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(msum), dx * Vector512.Create(dmin), accMin);
        }
        y[0] = Vector512.Sum(acc0) - Vector128.Sum(accMin.GetLower().GetLower());
        y[yStride] = Vector512.Sum(acc1) - Vector128.Sum(accMin.GetLower().GetUpper());
        y[2 * yStride] = Vector512.Sum(acc2) - Vector128.Sum(accMin.GetUpper().GetLower());
        y[3 * yStride] = Vector512.Sum(acc3) - Vector128.Sum(accMin.GetUpper().GetUpper());
    }

    /// <summary>
    /// Eight tokens (Q4_K and Q5_K, the bulk of a Q4_K_M/Q5_K_M file): as <see cref="Tile4"/>, each super-block
    /// unpacked once for eight tokens <paramref name="t"/>…t+7.
    /// </summary>
    public static void Tile8(GgmlType type, byte* w, int blocks, KQuantActivations acts, int t, float* y, long yStride)
    {
        if (type is not (GgmlType.Q4_K or GgmlType.Q5_K))
        {
            Tile4(type, w, blocks, acts, t, y, yStride);
            Tile4(type, w, blocks, acts, t + 4, y + 4 * yStride, yStride);
            return;
        }
        QmK8(w, blocks, acts.For(t), (long)acts.Blocks * KQuantDot.Q8Bytes, acts.Pairs(0, t), acts.Scales(0, t), acts.BlockStride, y, yStride,
            five: type == GgmlType.Q5_K);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QmK8(byte* w, int blocks, byte* x, long xStride, short* pairs, float* scales, int blockStride, float* y, long yStride, bool five)
    {
        var acc0 = Vector512<float>.Zero; var acc1 = Vector512<float>.Zero; var acc2 = Vector512<float>.Zero; var acc3 = Vector512<float>.Zero;
        var acc4 = Vector512<float>.Zero; var acc5 = Vector512<float>.Zero; var acc6 = Vector512<float>.Zero; var acc7 = Vector512<float>.Zero;
        var accMinA = Vector512<float>.Zero; var accMinB = Vector512<float>.Zero;
        var spread = Vector512.Create(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        var mask = Vector512.Create((byte)0x0F);
        var sixteen = Vector512.Create((byte)0x10);
        var idx = KQuantDot.Idx16;
        var bits = KQuantDot.HighBits;
        int blockBytes = five ? KQuantDot.Q5Bytes : KQuantDot.Q4Bytes;
        int qsOff = five ? KQuantDot.Q5Qs : KQuantDot.Q4Qs;
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * blockBytes;
            var (sc, mn) = KQuantDot.UnpackScales(wb + KQuantDot.Q4Scales);
            var s = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(sc).AsByte()).ToVector256Unsafe().ToVector512Unsafe();
            var s0 = Avx512BW.PermuteVar32x16(s, idx[0]); var s1 = Avx512BW.PermuteVar32x16(s, idx[1]);
            var s2 = Avx512BW.PermuteVar32x16(s, idx[2]); var s3 = Avx512BW.PermuteVar32x16(s, idx[3]);
            byte* q = wb + qsOff;
            var n0 = Nibbles(q, mask); var n1 = Nibbles(q + 32, mask); var n2 = Nibbles(q + 64, mask); var n3 = Nibbles(q + 96, mask);
            if (five)
            {
                var h256 = Vector256.Load(wb + KQuantDot.Q5Qh);
                var h = Vector512.Create(h256, h256);
                n0 |= Vector512.Equals(h & bits[0], bits[0]) & sixteen;
                n1 |= Vector512.Equals(h & bits[1], bits[1]) & sixteen;
                n2 |= Vector512.Equals(h & bits[2], bits[2]) & sixteen;
                n3 |= Vector512.Equals(h & bits[3], bits[3]) & sixteen;
            }
            float d = HalfTable.ToSingle(*(ushort*)wb), dmin = HalfTable.ToSingle(*(ushort*)(wb + 2));
            byte* xb = x + (long)b * KQuantDot.Q8Bytes;
            acc0 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb, d, acc0);
            acc1 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb + xStride, d, acc1);
            acc2 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb + 2 * xStride, d, acc2);
            acc3 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb + 3 * xStride, d, acc3);
            acc4 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb + 4 * xStride, d, acc4);
            acc5 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb + 5 * xStride, d, acc5);
            acc6 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb + 6 * xStride, d, acc6);
            acc7 = Token(n0, n1, n2, n3, s0, s1, s2, s3, xb + 7 * xStride, d, acc7);
            var m16 = Vector512.Create(Sse41.ConvertToVector128Int16(Vector128.CreateScalar(mn).AsByte()));
            short* pb = pairs + (long)b * blockStride * 8;
            float* db = scales + (long)b * blockStride;
            var dmins = Vector512.Create(dmin);
            accMinA = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512BW.MultiplyAddAdjacent(m16, Vector512.Load(pb))),
                Avx512F.PermuteVar16x32(Vector128.Load(db).ToVector256Unsafe().ToVector512Unsafe(), spread) * dmins, accMinA);
            accMinB = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(Avx512BW.MultiplyAddAdjacent(m16, Vector512.Load(pb + 32))),
                Avx512F.PermuteVar16x32(Vector128.Load(db + 4).ToVector256Unsafe().ToVector512Unsafe(), spread) * dmins, accMinB);
        }
        y[0] = Vector512.Sum(acc0) - Vector128.Sum(accMinA.GetLower().GetLower());
        y[yStride] = Vector512.Sum(acc1) - Vector128.Sum(accMinA.GetLower().GetUpper());
        y[2 * yStride] = Vector512.Sum(acc2) - Vector128.Sum(accMinA.GetUpper().GetLower());
        y[3 * yStride] = Vector512.Sum(acc3) - Vector128.Sum(accMinA.GetUpper().GetUpper());
        y[4 * yStride] = Vector512.Sum(acc4) - Vector128.Sum(accMinB.GetLower().GetLower());
        y[5 * yStride] = Vector512.Sum(acc5) - Vector128.Sum(accMinB.GetLower().GetUpper());
        y[6 * yStride] = Vector512.Sum(acc6) - Vector128.Sum(accMinB.GetUpper().GetLower());
        y[7 * yStride] = Vector512.Sum(acc7) - Vector128.Sum(accMinB.GetUpper().GetUpper());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Nibbles(byte* q, Vector512<byte> mask)
    {
        var v = Vector256.Load(q);
        return Vector512.Create(v, Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte()) & mask;
    }

    /// <summary>One token's scaled-quant part of one Q4_K/Q5_K super-block, d·dx·Σ scale·(q·a), added to <paramref name="acc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Token(Vector512<byte> n0, Vector512<byte> n1, Vector512<byte> n2, Vector512<byte> n3,
        Vector512<short> s0, Vector512<short> s1, Vector512<short> s2, Vector512<short> s3, byte* xb, float d, Vector512<float> acc)
    {
        sbyte* a = (sbyte*)(xb + KQuantDot.Q8Qs);
        var isum = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n0, Vector512.Load(a)), s0)
                 + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n1, Vector512.Load(a + 64)), s1)
                 + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n2, Vector512.Load(a + 128)), s2)
                 + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(n3, Vector512.Load(a + 192)), s3);
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(isum), Vector512.Create(d * *(float*)xb), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q6K4(byte* w, int blocks, byte* x, long xStride, float* y, long yStride)
    {
        var acc0 = Vector512<float>.Zero; var acc1 = Vector512<float>.Zero; var acc2 = Vector512<float>.Zero; var acc3 = Vector512<float>.Zero;
        var mask = Vector512.Create((byte)0x0F);
        var top = Vector512.Create((byte)0x30);
        var idx = KQuantDot.Idx8;
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + (long)b * KQuantDot.Q6Bytes;
            var sc16 = Avx2.ConvertToVector256Int16((sbyte*)(wb + KQuantDot.Q6Scales));
            var s = sc16.ToVector512Unsafe();
            var s0 = Avx512BW.PermuteVar32x16(s, idx[0]); var s1 = Avx512BW.PermuteVar32x16(s, idx[1]);
            var s2 = Avx512BW.PermuteVar32x16(s, idx[2]); var s3 = Avx512BW.PermuteVar32x16(s, idx[3]);
            var (q0, q1) = Half6(wb, wb + KQuantDot.Q6Qh, mask, top);
            var (q2, q3) = Half6(wb + 64, wb + KQuantDot.Q6Qh + 32, mask, top);
            float d = HalfTable.ToSingle(*(ushort*)(wb + KQuantDot.Q6D));
            byte* xb = x + (long)b * KQuantDot.Q8Bytes;
            acc0 = Token6(q0, q1, q2, q3, s0, s1, s2, s3, sc16, xb, d, acc0);
            acc1 = Token6(q0, q1, q2, q3, s0, s1, s2, s3, sc16, xb + xStride, d, acc1);
            acc2 = Token6(q0, q1, q2, q3, s0, s1, s2, s3, sc16, xb + 2 * xStride, d, acc2);
            acc3 = Token6(q0, q1, q2, q3, s0, s1, s2, s3, sc16, xb + 3 * xStride, d, acc3);
        }
        y[0] = Vector512.Sum(acc0);
        y[yStride] = Vector512.Sum(acc1);
        y[2 * yStride] = Vector512.Sum(acc2);
        y[3 * yStride] = Vector512.Sum(acc3);
    }

    /// <summary>Half a Q6_K block as unsigned 6-bit quants: elements 0–63 and 64–127 of the half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<byte>, Vector512<byte>) Half6(byte* ql, byte* qh, Vector512<byte> mask, Vector512<byte> top)
    {
        var l = Vector512.Load(ql);
        var hb = Vector256.Load(qh).AsUInt16();
        var hLo = Vector512.Create(Vector256.ShiftLeft(hb, 4), Vector256.ShiftLeft(hb, 2)).AsByte() & top;
        var hHi = Vector512.Create(hb, Vector256.ShiftRightLogical(hb, 2)).AsByte() & top;
        return ((l & mask) | hLo, (Vector512.ShiftRightLogical(l.AsUInt16(), 4).AsByte() & mask) | hHi);
    }

    /// <summary>One token's contribution of one Q6_K super-block, d·dx·(Σ scale·(q·a) − 32·Σ scale·bsum), added to <paramref name="acc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Token6(Vector512<byte> q0, Vector512<byte> q1, Vector512<byte> q2, Vector512<byte> q3,
        Vector512<short> s0, Vector512<short> s1, Vector512<short> s2, Vector512<short> s3, Vector256<short> sc16, byte* xb, float d, Vector512<float> acc)
    {
        sbyte* a = (sbyte*)(xb + KQuantDot.Q8Qs);
        var offset = Vector256.ShiftLeft(Avx2.MultiplyAddAdjacent(sc16, Vector256.Load((short*)(xb + KQuantDot.Q8BSums))), 5);
        var isum = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q0, Vector512.Load(a)), s0)
                 + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q1, Vector512.Load(a + 64)), s1)
                 + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q2, Vector512.Load(a + 128)), s2)
                 + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q3, Vector512.Load(a + 192)), s3)
                 - offset.ToVector512();
        return Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(isum), Vector512.Create(d * *(float*)xb), acc);
    }
}
