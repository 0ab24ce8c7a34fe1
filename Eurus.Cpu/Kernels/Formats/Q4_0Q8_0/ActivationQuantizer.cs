using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Quantizes activation vectors to Q8_0 blocks for the integer dot products, with the arithmetic of llama.cpp's x86
/// activation path (<c>quantize_row_q8_0</c>): d = amax/127 stored as fp16, values multiplied by 127/amax and rounded
/// half to even. (The weight quantizer in <see cref="QuantReference"/> instead follows the reference rounding, half
/// away from zero, as llama-quantize writes files.)
/// </summary>
internal static unsafe class ActivationQuantizer
{
    /// <summary>
    /// Quantizes <paramref name="x"/> (a multiple of 32 long) into <paramref name="y"/>: <see cref="QuantizeQ8_0Vector"/>
    /// in 256-bit vectors where they run in hardware, else in 128-bit ones where those do, else
    /// <see cref="QuantizeQ8_0Scalar"/>. All give the same blocks.
    /// </summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<BlockQ8_0> y)
    {
        if (Vector256.IsHardwareAccelerated) QuantizeQ8_0Vector(x, y);
        else if (Vector128.IsHardwareAccelerated) QuantizeQ8_0Vector(x, y, wide: false);
        else QuantizeQ8_0Scalar(x, y);
    }

    /// <summary>
    /// <see cref="QuantizeQ8_0Scalar"/> in vectors, one block at a time — four 256-bit vectors where
    /// <paramref name="wide"/>, else eight 128-bit ones (ARM64 AdvSimd, x64 without AVX2): the same amax (a maximum of
    /// magnitudes is exact in any order), the same d and 127/amax, the same product per element rounded half to even, so
    /// the same blocks bit for bit. A block whose magnitudes are not all finite goes through the scalar reference
    /// (<see cref="BlockScale"/>). A 7B decode step quantizes ~27k blocks; the scalar loop took ~110 ns per block (3 ms a
    /// token on Zen 4).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeQ8_0Vector(ReadOnlySpan<float> x, Span<BlockQ8_0> y, bool wide = true)
    {
        int nb = x.Length / 32;
        if (y.Length < nb) throw new ArgumentException($"{nb} blocks need room, {y.Length} given.", nameof(y));
        fixed (float* px = x)
        fixed (BlockQ8_0* py = y)
            for (int b = 0; b < nb; b++)
            {
                float* p = px + (long)b * 32;
                sbyte* qs = (sbyte*)((byte*)(py + b) + BlockQ8_0.QsOffset);
                if (wide)
                {
                    Vector256<float> v0 = Vector256.Load(p), v1 = Vector256.Load(p + 8), v2 = Vector256.Load(p + 16), v3 = Vector256.Load(p + 24);
                    var m8 = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
                    if (!BlockScale(MaxAcross(Vector128.Max(m8.GetLower(), m8.GetUpper())), x, y, b, out float scale)) continue;
                    var id = Vector256.Create(scale);
                    var q01 = Vector256.Narrow(Vector256.ConvertToInt32(Vector256.Round(v0 * id)), Vector256.ConvertToInt32(Vector256.Round(v1 * id)));
                    var q23 = Vector256.Narrow(Vector256.ConvertToInt32(Vector256.Round(v2 * id)), Vector256.ConvertToInt32(Vector256.Round(v3 * id)));
                    Vector256.Narrow(q01, q23).Store(qs);
                }
                else
                {
                    Vector128<float> v0 = Vector128.Load(p), v1 = Vector128.Load(p + 4), v2 = Vector128.Load(p + 8), v3 = Vector128.Load(p + 12);
                    Vector128<float> v4 = Vector128.Load(p + 16), v5 = Vector128.Load(p + 20), v6 = Vector128.Load(p + 24), v7 = Vector128.Load(p + 28);
                    var m4 = Vector128.Max(
                        Vector128.Max(Vector128.Max(Vector128.Abs(v0), Vector128.Abs(v1)), Vector128.Max(Vector128.Abs(v2), Vector128.Abs(v3))),
                        Vector128.Max(Vector128.Max(Vector128.Abs(v4), Vector128.Abs(v5)), Vector128.Max(Vector128.Abs(v6), Vector128.Abs(v7))));
                    if (!BlockScale(MaxAcross(m4), x, y, b, out float scale)) continue;
                    var id = Vector128.Create(scale);
                    var q01 = Vector128.Narrow(Vector128.ConvertToInt32(Vector128.Round(v0 * id)), Vector128.ConvertToInt32(Vector128.Round(v1 * id)));
                    var q23 = Vector128.Narrow(Vector128.ConvertToInt32(Vector128.Round(v2 * id)), Vector128.ConvertToInt32(Vector128.Round(v3 * id)));
                    var q45 = Vector128.Narrow(Vector128.ConvertToInt32(Vector128.Round(v4 * id)), Vector128.ConvertToInt32(Vector128.Round(v5 * id)));
                    var q67 = Vector128.Narrow(Vector128.ConvertToInt32(Vector128.Round(v6 * id)), Vector128.ConvertToInt32(Vector128.Round(v7 * id)));
                    Vector128.Narrow(q01, q23).Store(qs);
                    Vector128.Narrow(q45, q67).Store(qs + 16);
                }
            }
    }

    /// <summary>The largest of four lanes: the last steps of a block's amax.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxAcross(Vector128<float> m4)
    {
        m4 = Vector128.Max(m4, Vector128.Shuffle(m4, Vector128.Create(2, 3, 0, 1)));
        return Vector128.Max(m4, Vector128.Shuffle(m4, Vector128.Create(1, 0, 3, 2))).ToScalar();
    }

    /// <summary>
    /// Block <paramref name="b"/>'s d and 127/amax (<paramref name="id"/>) as the reference makes them; false where amax
    /// is not finite (±Inf, or NaN, which the vector maximum propagates): that block is then quantized by the reference,
    /// whose conversions define those cases.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool BlockScale(float amax, ReadOnlySpan<float> x, Span<BlockQ8_0> y, int b, out float id)
    {
        if (!float.IsFinite(amax))
        {
            QuantizeQ8_0Scalar(x.Slice(b * 32, 32), y.Slice(b, 1));
            id = 0;
            return false;
        }
        y[b].D = (Half)(amax / 127f);
        id = amax != 0 ? 127f / amax : 0f;
        return true;
    }

    /// <summary>Scalar reference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeQ8_0Scalar(ReadOnlySpan<float> x, Span<BlockQ8_0> y)
    {
        int nb = x.Length / 32;
        for (int b = 0; b < nb; b++)
        {
            var xb = x.Slice(b * 32, 32);
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
            y[b].D = (Half)(amax / 127f);
            float id = amax != 0 ? 127f / amax : 0f;
            fixed (sbyte* qs = y[b].Qs)
                for (int j = 0; j < 32; j++) qs[j] = (sbyte)MathF.Round(xb[j] * id, MidpointRounding.ToEven);
        }
    }
}
