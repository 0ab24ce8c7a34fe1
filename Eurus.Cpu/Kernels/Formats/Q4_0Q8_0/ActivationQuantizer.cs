using System.Runtime.CompilerServices;
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
    /// <summary>Scalar reference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<BlockQ8_0> y)
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
