using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Q4_0 weight row · Q8_0 activations. The nibbles are used unsigned (0..15) and the −8 offset is applied once per
/// block through the activation block sums: Σ(q−8)·x = Σq·x − 8·Σx, with Σx precomputed per activation block
/// (<c>xSum</c>), so AVX-512 needs no sign trick. Paths as in <see cref="DotQ8_0"/>.
/// </summary>
internal static unsafe class DotQ4_0
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(byte* w, BlockQ8_0* x, float* xScale, int* xSum, int blocks)
    {
        if (Avx512BW.IsSupported) return Avx512(w, x, xScale, xSum, blocks);
        if (Avx2.IsSupported) return Avx2Path(w, x, xScale, xSum, blocks);
        if (Vector128.IsHardwareAccelerated) return V128(w, x, xScale, xSum, blocks);
        return Scalar(w, x, xScale, xSum, blocks);
    }

    public static float Scalar(byte* w, BlockQ8_0* x, float* xScale, int* xSum, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + b * BlockQ4_0.Bytes;
            byte* q = wb + 2;
            sbyte* qx = x[b].Qs;
            int isum = 0;
            for (int j = 0; j < 16; j++) isum += (q[j] & 0x0F) * qx[j] + (q[j] >> 4) * qx[j + 16];
            sum += (isum - 8 * xSum[b]) * (HalfTable.ToSingle(*(ushort*)wb) * xScale[b]);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<byte> Lo, Vector128<byte> Hi) Nibbles(byte* q)
    {
        var raw = Vector128.Load(q);
        var mask = Vector128.Create((byte)0x0F);
        return (raw & mask, Vector128.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & mask);
    }

    // 16 unsigned nibbles × 16 signed activations → four int32 partial sums.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Half16(Vector128<byte> q, Vector128<sbyte> x)
    {
        var (ql, qh) = Vector128.Widen(q);
        var (xl, xh) = Vector128.Widen(x);
        var (pl, ph) = Vector128.Widen(ql.AsInt16() * xl + qh.AsInt16() * xh);
        return pl + ph;
    }

    public static float V128(byte* w, BlockQ8_0* x, float* xScale, int* xSum, int blocks)
    {
        var acc = Vector128<float>.Zero;
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + b * BlockQ4_0.Bytes;
            var (lo, hi) = Nibbles(wb + 2);
            var isum = Half16(lo, Vector128.Load(x[b].Qs)) + Half16(hi, Vector128.Load(x[b].Qs + 16));
            isum = isum.WithElement(0, isum.GetElement(0) - 8 * xSum[b]);
            acc += Vector128.ConvertToSingle(isum) * Vector128.Create(HalfTable.ToSingle(*(ushort*)wb) * xScale[b]);
        }
        return Vector128.Sum(acc);
    }

    public static float Avx2Path(byte* w, BlockQ8_0* x, float* xScale, int* xSum, int blocks)
    {
        var acc = Vector256<float>.Zero;
        var ones = Vector256.Create((short)1);
        float corr = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + b * BlockQ4_0.Bytes;
            var (lo, hi) = Nibbles(wb + 2);
            var p32 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Create(lo, hi), Avx.LoadVector256(x[b].Qs)), ones);
            float d = HalfTable.ToSingle(*(ushort*)wb) * xScale[b];
            var dv = Vector256.Create(d);
            acc = Fma.IsSupported ? Fma.MultiplyAdd(Avx.ConvertToVector256Single(p32), dv, acc) : acc + Avx.ConvertToVector256Single(p32) * dv;
            corr += d * xSum[b];
        }
        return Vector256.Sum(acc) - 8 * corr;
    }

    public static float Avx512(byte* w, BlockQ8_0* x, float* xScale, int* xSum, int blocks)
    {
        var acc = Vector512<float>.Zero;
        var ones = Vector512.Create((short)1);
        float corr = 0;
        int b = 0;
        for (; b + 1 < blocks; b += 2)
        {
            byte* w0 = w + b * BlockQ4_0.Bytes, w1 = w0 + BlockQ4_0.Bytes;
            var (lo0, hi0) = Nibbles(w0 + 2);
            var (lo1, hi1) = Nibbles(w1 + 2);
            var q = Vector512.Create(Vector256.Create(lo0, hi0), Vector256.Create(lo1, hi1));
            var qx = Vector512.Create(Vector256.Load(x[b].Qs), Vector256.Load(x[b + 1].Qs));
            var p32 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(q, qx), ones);
            float d0 = HalfTable.ToSingle(*(ushort*)w0) * xScale[b], d1 = HalfTable.ToSingle(*(ushort*)w1) * xScale[b + 1];
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(p32), Vector512.Create(Vector256.Create(d0), Vector256.Create(d1)), acc);
            corr += d0 * xSum[b] + d1 * xSum[b + 1];
        }
        float sum = Vector512.Sum(acc) - 8 * corr;
        if (b < blocks) sum += Avx2Path(w + b * BlockQ4_0.Bytes, x + b, xScale + b, xSum + b, blocks - b);
        return sum;
    }
}
