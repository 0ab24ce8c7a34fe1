using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Activations → Q8_K blocks (<see cref="KQuantReference.QuantizeQ8_K(ReadOnlySpan{float}, Span{BlockQ8_K})"/>, the
/// scalar reference, bit for bit) with AVX2: the largest magnitude by vector max, its first occurrence by a vector
/// compare, values × −127/max rounded half to even by <c>VCVTPS2DQ</c> (the reference's rounding), packed to bytes, and
/// the 16-element sums. Blocks holding an infinity or NaN, and machines without AVX2, take the reference.
/// </summary>
internal static unsafe class Q8KQuantizer
{
    /// <summary>Quantizes <paramref name="x"/> (a multiple of 256 floats) into <paramref name="y"/>.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<BlockQ8_K> y)
    {
        if (x.Length % BlockQ8_K.Elements != 0 || y.Length != x.Length / BlockQ8_K.Elements)
            throw new ArgumentException($"{x.Length} values do not fill {y.Length} Q8_K blocks.");
        fixed (float* px = x)
        fixed (BlockQ8_K* py = y)
            for (int b = 0; b < y.Length; b++)
                if (!Block(px + b * BlockQ8_K.Elements, py + b))
                    KQuantReference.QuantizeQ8_K(x.Slice(b * BlockQ8_K.Elements, BlockQ8_K.Elements), py + b);
    }

    /// <summary>One block with AVX2; false (nothing written) where AVX2 is off or a value is not finite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool Block(float* x, BlockQ8_K* blk)
    {
        if (!Avx2.IsSupported) return false;
        var abs = Vector256.Create(0x7FFFFFFF);
        var exp = Vector256.Create(0x7F800000);
        Vector256<int> special = default;
        Vector256<float> vmax = default;
        for (int i = 0; i < 256; i += 8)
        {
            var v = Vector256.Load(x + i).AsInt32();
            special |= Vector256.Equals(v & exp, exp);
            vmax = Avx.Max(vmax, (v & abs).AsSingle());
        }
        if (special != Vector256<int>.Zero) return false;
        var m4 = Sse.Max(vmax.GetLower(), vmax.GetUpper());
        m4 = Sse.Max(m4, Sse.Shuffle(m4, m4, 0b_01_00_11_10));
        m4 = Sse.Max(m4, Sse.Shuffle(m4, m4, 0b_10_11_00_01));
        float amax = m4.ToScalar();
        if (amax == 0)
        {
            new Span<byte>(blk, BlockQ8_K.Bytes).Clear();
            return true;
        }
        // The reference keeps the first value of largest magnitude, sign included.
        var va = Vector256.Create(amax);
        float max = 0;
        for (int i = 0; i < 256; i += 8)
        {
            uint hit = Vector256.Equals((Vector256.Load(x + i).AsInt32() & abs).AsSingle(), va).ExtractMostSignificantBits();
            if (hit != 0)
            {
                max = x[i + BitOperations.TrailingZeroCount(hit)];
                break;
            }
        }
        float iscale = -127f / max;
        if (!float.IsFinite(iscale)) return false; // a largest magnitude below ~3.7e-37: the reference's overflow handling
        var vs = Vector256.Create(iscale);
        var lim = Vector256.Create(127);
        var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        var ones = Vector256.Create((short)1);
        sbyte* qs = blk->Qs;
        short* sums = blk->BSums;
        for (int i = 0; i < 256; i += 32)
        {
            var q0 = Avx2.Min(Avx.ConvertToVector256Int32(Vector256.Load(x + i) * vs), lim);
            var q1 = Avx2.Min(Avx.ConvertToVector256Int32(Vector256.Load(x + i + 8) * vs), lim);
            var q2 = Avx2.Min(Avx.ConvertToVector256Int32(Vector256.Load(x + i + 16) * vs), lim);
            var q3 = Avx2.Min(Avx.ConvertToVector256Int32(Vector256.Load(x + i + 24) * vs), lim);
            // The packs interleave 128-bit lanes; one dword permute restores element order.
            var bytes = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(q0, q1), Avx2.PackSignedSaturate(q2, q3));
            var ordered = Avx2.PermuteVar8x32(bytes.AsInt32(), order).AsSByte();
            ordered.Store(qs + i);
            // Two 16-element sums: widen to int16, pairwise to int32, then four lanes each.
            var p0 = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(ordered.GetLower()), ones);
            var p1 = Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(ordered.GetUpper()), ones);
            sums[i / 16] = (short)Vector256.Sum(p0);
            sums[i / 16 + 1] = (short)Vector256.Sum(p1);
        }
        blk->D = 1 / iscale;
        return true;
    }
}
