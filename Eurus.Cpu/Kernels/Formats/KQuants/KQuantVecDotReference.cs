using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Plain scalar K-quant · Q8_K dot products: the reference every SIMD path in <see cref="KQuantDot"/> is tested
/// against. As in llama.cpp, each super-block's sum is exact in integers (per sub-block Σq·x times the 6- or 8-bit
/// sub-block scale; the Q4_K/Q5_K mins and Q6_K's −32 offset through the activation block sums), then scaled by
/// the fp16 super-block scales times the activation scale and summed in float.
/// </summary>
internal static unsafe class KQuantVecDotReference
{
    /// <summary>Q4_K weights · Q8_K activations.</summary>
    public static float Q4_K(ReadOnlySpan<BlockQ4_K> w, ReadOnlySpan<BlockQ8_K> x)
    {
        if (w.Length != x.Length) throw new ArgumentException("Block counts differ.");
        float sum = 0;
        for (int b = 0; b < w.Length; b++)
            fixed (BlockQ4_K* wb = &w[b])
            fixed (BlockQ8_K* xb = &x[b])
            {
                int isum = 0, mins = 0;
                for (int j = 0; j < 8; j++)
                {
                    var (s, m) = KQuantReference.ScaleMin(wb->Scales, j);
                    int c = j / 2, shift = 4 * (j % 2), sub = 0;
                    for (int i = 0; i < 32; i++) sub += ((wb->Qs[32 * c + i] >> shift) & 0xF) * xb->Qs[32 * j + i];
                    isum += s * sub;
                    mins += m * (xb->BSums[2 * j] + xb->BSums[2 * j + 1]);
                }
                sum += (float)wb->D * xb->D * isum - (float)wb->DMin * xb->D * mins;
            }
        return sum;
    }

    /// <summary>Q5_K weights · Q8_K activations.</summary>
    public static float Q5_K(ReadOnlySpan<BlockQ5_K> w, ReadOnlySpan<BlockQ8_K> x)
    {
        if (w.Length != x.Length) throw new ArgumentException("Block counts differ.");
        float sum = 0;
        for (int b = 0; b < w.Length; b++)
            fixed (BlockQ5_K* wb = &w[b])
            fixed (BlockQ8_K* xb = &x[b])
            {
                int isum = 0, mins = 0;
                for (int j = 0; j < 8; j++)
                {
                    var (s, m) = KQuantReference.ScaleMin(wb->Scales, j);
                    int c = j / 2, shift = 4 * (j % 2), sub = 0;
                    for (int i = 0; i < 32; i++)
                    {
                        int q = ((wb->Qs[32 * c + i] >> shift) & 0xF) | (((wb->Qh[i] >> j) & 1) << 4);
                        sub += q * xb->Qs[32 * j + i];
                    }
                    isum += s * sub;
                    mins += m * (xb->BSums[2 * j] + xb->BSums[2 * j + 1]);
                }
                sum += (float)wb->D * xb->D * isum - (float)wb->DMin * xb->D * mins;
            }
        return sum;
    }

    /// <summary>Q6_K weights · Q8_K activations.</summary>
    public static float Q6_K(ReadOnlySpan<BlockQ6_K> w, ReadOnlySpan<BlockQ8_K> x)
    {
        if (w.Length != x.Length) throw new ArgumentException("Block counts differ.");
        float sum = 0;
        for (int b = 0; b < w.Length; b++)
            fixed (BlockQ6_K* wb = &w[b])
            fixed (BlockQ8_K* xb = &x[b])
            {
                int isum = 0;
                for (int j = 0; j < 16; j++)
                {
                    int sub = 0;
                    for (int i = 0; i < 16; i++) sub += (KQuantReference.Q6(wb, 16 * j + i) - 32) * xb->Qs[16 * j + i];
                    isum += wb->Scales[j] * sub;
                }
                sum += (float)wb->D * xb->D * isum;
            }
        return sum;
    }
}
