using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Q8_0 weight row · Q8_0 activations. Per block: exact int32 sum of 32 int8×int8 products, times d_w·d_x.
/// Paths: Vector512 (AVX-512BW, two blocks per step), Vector256 (AVX2), Vector128 (portable: SSE2/NEON), scalar.
/// <c>xScale</c> holds the activation scales already converted to float.
/// </summary>
internal static unsafe class DotQ8_0
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(byte* w, BlockQ8_0* x, float* xScale, int blocks)
    {
        if (Avx512BW.IsSupported) return Avx512(w, x, xScale, blocks);
        if (Avx2.IsSupported) return Avx2Path(w, x, xScale, blocks);
        if (Vector128.IsHardwareAccelerated) return V128(w, x, xScale, blocks);
        return Scalar(w, x, xScale, blocks);
    }

    public static float Scalar(byte* w, BlockQ8_0* x, float* xScale, int blocks)
    {
        float sum = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + b * BlockQ8_0.Bytes;
            sbyte* qw = (sbyte*)(wb + 2);
            sbyte* qx = x[b].Qs;
            int isum = 0;
            for (int j = 0; j < 32; j++) isum += qw[j] * qx[j];
            sum += isum * (HalfTable.ToSingle(*(ushort*)wb) * xScale[b]);
        }
        return sum;
    }

    public static float V128(byte* w, BlockQ8_0* x, float* xScale, int blocks)
    {
        var acc = Vector128<float>.Zero;
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + b * BlockQ8_0.Bytes;
            var isum = Vector128<int>.Zero;
            for (int h = 0; h < 32; h += 16)
            {
                var (wl, wh) = Vector128.Widen(Vector128.Load((sbyte*)(wb + 2 + h)));
                var (xl, xh) = Vector128.Widen(Vector128.Load(x[b].Qs + h));
                var p = wl * xl + wh * xh; // |p| ≤ 2·127·128, fits in int16
                var (pl, ph) = Vector128.Widen(p);
                isum += pl + ph;
            }
            acc += Vector128.ConvertToSingle(isum) * Vector128.Create(HalfTable.ToSingle(*(ushort*)wb) * xScale[b]);
        }
        return Vector128.Sum(acc);
    }

    public static float Avx2Path(byte* w, BlockQ8_0* x, float* xScale, int blocks)
    {
        var acc = Vector256<float>.Zero;
        var ones = Vector256.Create((short)1);
        for (int b = 0; b < blocks; b++)
        {
            byte* wb = w + b * BlockQ8_0.Bytes;
            var p32 = Block256(Avx.LoadVector256((sbyte*)(wb + 2)), Avx.LoadVector256(x[b].Qs), ones);
            var d = Vector256.Create(HalfTable.ToSingle(*(ushort*)wb) * xScale[b]);
            acc = Fma.IsSupported ? Fma.MultiplyAdd(Avx.ConvertToVector256Single(p32), d, acc) : acc + Avx.ConvertToVector256Single(p32) * d;
        }
        return Vector256.Sum(acc);
    }

    // |w| (unsigned) × sign(x, w) (signed) → pairwise int16 → int32: exact, since |x| ≤ 127.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Block256(Vector256<sbyte> qw, Vector256<sbyte> qx, Vector256<short> ones) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(qw), Avx2.Sign(qx, qw)), ones);

    public static float Avx512(byte* w, BlockQ8_0* x, float* xScale, int blocks)
    {
        var acc = Vector512<float>.Zero;
        var ones = Vector512.Create((short)1);
        int b = 0;
        for (; b + 1 < blocks; b += 2)
        {
            byte* w0 = w + b * BlockQ8_0.Bytes, w1 = w0 + BlockQ8_0.Bytes;
            var qw = Vector512.Create(Vector256.Load((sbyte*)(w0 + 2)), Vector256.Load((sbyte*)(w1 + 2)));
            var qx = Vector512.Create(Vector256.Load(x[b].Qs), Vector256.Load(x[b + 1].Qs));
            // AVX-512 has no sign instruction: negate x where w is negative.
            var sx = Vector512.ConditionalSelect(Vector512.LessThan(qw, Vector512<sbyte>.Zero).AsSByte(), -qx, qx);
            var p32 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Avx512BW.Abs(qw), sx), ones);
            var d = Vector512.Create(
                Vector256.Create(HalfTable.ToSingle(*(ushort*)w0) * xScale[b]),
                Vector256.Create(HalfTable.ToSingle(*(ushort*)w1) * xScale[b + 1]));
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(p32), d, acc);
        }
        float sum = Vector512.Sum(acc);
        if (b < blocks) sum += Avx2Path(w + b * BlockQ8_0.Bytes, x + b, xScale + b, blocks - b);
        return sum;
    }
}
