using System.Runtime.InteropServices;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Plain scalar dot products, one per weight type: the reference every SIMD path is tested against.
/// Quantized weights are multiplied with Q8_0-quantized activations like llama.cpp: each block's dot product is an
/// exact integer sum, scaled by the product of the two fp16 scales, and the per-block results are summed in float.
/// </summary>
internal static unsafe class VecDotReference
{
    /// <summary>Q8_0 weights · Q8_0 activations.</summary>
    public static float Q8_0(ReadOnlySpan<BlockQ8_0> w, ReadOnlySpan<BlockQ8_0> x)
    {
        if (w.Length != x.Length) throw new ArgumentException("Block counts differ.");
        float sum = 0;
        for (int b = 0; b < w.Length; b++)
        {
            int isum = 0;
            fixed (sbyte* qw = w[b].Qs)
            fixed (sbyte* qx = x[b].Qs)
                for (int j = 0; j < 32; j++) isum += qw[j] * qx[j];
            sum += isum * ((float)w[b].D * (float)x[b].D);
        }
        return sum;
    }

    /// <summary>Q4_0 weights · Q8_0 activations (nibble order in <see cref="BlockQ4_0"/>).</summary>
    public static float Q4_0(ReadOnlySpan<BlockQ4_0> w, ReadOnlySpan<BlockQ8_0> x)
    {
        if (w.Length != x.Length) throw new ArgumentException("Block counts differ.");
        float sum = 0;
        for (int b = 0; b < w.Length; b++)
        {
            int isum = 0;
            fixed (byte* qw = w[b].Qs)
            fixed (sbyte* qx = x[b].Qs)
                for (int j = 0; j < 16; j++)
                    isum += ((qw[j] & 0x0F) - 8) * qx[j] + ((qw[j] >> 4) - 8) * qx[j + 16];
            sum += isum * ((float)w[b].D * (float)x[b].D);
        }
        return sum;
    }

    /// <summary>F32 weights · F32 activations.</summary>
    public static float F32(ReadOnlySpan<float> w, ReadOnlySpan<float> x)
    {
        if (w.Length != x.Length) throw new ArgumentException("Lengths differ.");
        float sum = 0;
        for (int i = 0; i < w.Length; i++) sum += w[i] * x[i];
        return sum;
    }

    /// <summary>F16 weights · activations already rounded to F16 (as llama.cpp does), summed in float.</summary>
    public static float F16(ReadOnlySpan<Half> w, ReadOnlySpan<Half> x)
    {
        if (w.Length != x.Length) throw new ArgumentException("Lengths differ.");
        float sum = 0;
        for (int i = 0; i < w.Length; i++) sum += (float)w[i] * (float)x[i];
        return sum;
    }

    /// <summary>BF16 weights (raw bits) · activations already rounded to BF16.</summary>
    public static float BF16(ReadOnlySpan<ushort> w, ReadOnlySpan<ushort> x)
    {
        if (w.Length != x.Length) throw new ArgumentException("Lengths differ.");
        float sum = 0;
        for (int i = 0; i < w.Length; i++)
            sum += BitConverter.UInt32BitsToSingle((uint)w[i] << 16) * BitConverter.UInt32BitsToSingle((uint)x[i] << 16);
        return sum;
    }
}
