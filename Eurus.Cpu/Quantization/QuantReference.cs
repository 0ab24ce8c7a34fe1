using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// Plain scalar quantizers and dequantizers: the oracle for every SIMD kernel. Rounding follows ggml's reference
/// code (<c>quantize_row_q8_0_ref</c>, <c>quantize_row_q4_0_ref</c>) so our files are byte-identical to llama-quantize's.
/// </summary>
public static class QuantReference
{
    /// <summary>Quantizes <paramref name="x"/> (a multiple of 32 long) to Q8_0 blocks.</summary>
    public static unsafe void QuantizeQ8_0(ReadOnlySpan<float> x, Span<BlockQ8_0> y)
    {
        int nb = CheckBlocks(x.Length, y.Length);
        for (int b = 0; b < nb; b++)
        {
            var xb = x.Slice(b * 32, 32);
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            y[b].D = (Half)d;
            fixed (sbyte* qs = y[b].Qs)
                for (int j = 0; j < 32; j++) qs[j] = (sbyte)MathF.Round(xb[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>Dequantizes Q8_0 blocks to floats.</summary>
    public static unsafe void DequantizeQ8_0(ReadOnlySpan<BlockQ8_0> x, Span<float> y)
    {
        CheckBlocks(y.Length, x.Length);
        for (int b = 0; b < x.Length; b++)
        {
            float s = (float)x[b].D;
            fixed (sbyte* qs = x[b].Qs)
                for (int j = 0; j < 32; j++) y[b * 32 + j] = qs[j] * s;
        }
    }

    /// <summary>Quantizes <paramref name="x"/> (a multiple of 32 long) to Q4_0 blocks.</summary>
    public static unsafe void QuantizeQ4_0(ReadOnlySpan<float> x, Span<BlockQ4_0> y)
    {
        int nb = CheckBlocks(x.Length, y.Length);
        for (int b = 0; b < nb; b++)
        {
            var xb = x.Slice(b * 32, 32);
            // The value of largest magnitude, with its sign, maps to -8.
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
            {
                float v = xb[j];
                if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
            }
            float d = max / -8f;
            float id = d != 0 ? 1f / d : 0f;
            y[b].D = (Half)d;
            fixed (byte* qs = y[b].Qs)
                for (int j = 0; j < 16; j++)
                {
                    // (int8_t)(v + 8.5f) truncates toward zero, as in C.
                    int lo = Math.Min(15, (int)(xb[j] * id + 8.5f));
                    int hi = Math.Min(15, (int)(xb[j + 16] * id + 8.5f));
                    qs[j] = (byte)(lo | (hi << 4));
                }
        }
    }

    /// <summary>Dequantizes Q4_0 blocks to floats (see <see cref="BlockQ4_0"/> for the nibble order).</summary>
    public static unsafe void DequantizeQ4_0(ReadOnlySpan<BlockQ4_0> x, Span<float> y)
    {
        CheckBlocks(y.Length, x.Length);
        for (int b = 0; b < x.Length; b++)
        {
            float s = (float)x[b].D;
            fixed (byte* qs = x[b].Qs)
                for (int j = 0; j < 16; j++)
                {
                    y[b * 32 + j] = ((qs[j] & 0x0F) - 8) * s;
                    y[b * 32 + j + 16] = ((qs[j] >> 4) - 8) * s;
                }
        }
    }

    /// <summary>Quantizes floats to Q8_0 and returns the raw bytes (convenience for writers and tests).</summary>
    public static byte[] QuantizeQ8_0(ReadOnlySpan<float> x)
    {
        var blocks = new BlockQ8_0[x.Length / 32];
        QuantizeQ8_0(x, blocks);
        return MemoryMarshal.AsBytes(blocks.AsSpan()).ToArray();
    }

    /// <summary>Quantizes floats to Q4_0 and returns the raw bytes (convenience for writers and tests).</summary>
    public static byte[] QuantizeQ4_0(ReadOnlySpan<float> x)
    {
        var blocks = new BlockQ4_0[x.Length / 32];
        QuantizeQ4_0(x, blocks);
        return MemoryMarshal.AsBytes(blocks.AsSpan()).ToArray();
    }

    private static int CheckBlocks(int elements, int blocks)
    {
        if (elements % 32 != 0) throw new ArgumentException($"Length {elements} is not a multiple of 32.");
        if (blocks < elements / 32) throw new ArgumentException($"{blocks} blocks cannot hold {elements} elements.");
        return elements / 32;
    }
}
