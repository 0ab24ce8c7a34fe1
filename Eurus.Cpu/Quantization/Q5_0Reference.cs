using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// Q5_0 quantizer (ggml's <c>quantize_row_q5_0_ref</c> arithmetic, so blocks match llama-quantize's), dequantizer,
/// and the lossless widening to Q8_0 (same scale, quants q − 16 as signed bytes) through which the engine runs Q5_0
/// matrices: a Q5_0 · Q8_0 dot product is then exactly the Q8_0 · Q8_0 one on the widened block.
/// </summary>
public static unsafe class Q5_0Reference
{
    /// <summary>Quantizes <paramref name="x"/> (a multiple of 32 long) to Q5_0 blocks.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<BlockQ5_0> y)
    {
        int nb = Check(x.Length, y.Length);
        for (int b = 0; b < nb; b++)
        {
            var xb = x.Slice(b * 32, 32);
            // The value of largest magnitude, with its sign, maps to −16.
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
                if (amax < MathF.Abs(xb[j])) { amax = MathF.Abs(xb[j]); max = xb[j]; }
            float d = max / -16f;
            float id = d != 0 ? 1f / d : 0f;
            uint qh = 0;
            fixed (BlockQ5_0* blk = &y[b])
            {
                blk->D = (Half)d;
                for (int j = 0; j < 16; j++)
                {
                    // (int8_t)(v + 16.5f) truncates toward zero, as in C.
                    int lo = Math.Min(31, (int)(xb[j] * id + 16.5f));
                    int hi = Math.Min(31, (int)(xb[j + 16] * id + 16.5f));
                    blk->Qs[j] = (byte)((lo & 0x0F) | ((hi & 0x0F) << 4));
                    qh |= (uint)((lo >> 4) & 1) << j;
                    qh |= (uint)((hi >> 4) & 1) << (j + 16);
                }
                *(uint*)blk->Qh = qh; // little-endian, as ggml's memcpy on x86/ARM
            }
        }
    }

    /// <summary>The 5-bit quant (0…31) of element <paramref name="j"/>.</summary>
    internal static int Quant(BlockQ5_0* blk, int j) =>
        Quant(blk->Qs, blk->Qh[0] | (uint)blk->Qh[1] << 8 | (uint)blk->Qh[2] << 16 | (uint)blk->Qh[3] << 24, j);

    /// <summary>
    /// The 5-bit quant of element <paramref name="j"/> from 16 nibble bytes (Q4_0's order) and 32 fifth bits (element
    /// j's in bit j) — the layout Q5_0 and Q5_1 share.
    /// </summary>
    internal static int Quant(byte* qs, uint qh, int j) => Nibble(qs, j) | (int)((qh >> j) & 1) << 4;

    /// <summary>The 4-bit quant of element <paramref name="j"/> in Q4_0's nibble order (low nibbles 0–15, high 16–31).</summary>
    internal static int Nibble(byte* qs, int j) => j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;

    /// <summary>Dequantizes Q5_0 blocks to floats.</summary>
    public static void Dequantize(ReadOnlySpan<BlockQ5_0> x, Span<float> y)
    {
        Check(y.Length, x.Length);
        for (int b = 0; b < x.Length; b++)
            fixed (BlockQ5_0* blk = &x[b])
            {
                float d = (float)blk->D;
                for (int j = 0; j < 32; j++) y[b * 32 + j] = (Quant(blk, j) - 16) * d;
            }
    }

    /// <summary>Widens Q5_0 blocks to Q8_0 blocks holding exactly the same values (same fp16 scale).</summary>
    public static void WidenToQ8_0(ReadOnlySpan<BlockQ5_0> x, Span<BlockQ8_0> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("Destination is too short.", nameof(y));
        for (int b = 0; b < x.Length; b++)
            fixed (BlockQ5_0* src = &x[b])
            fixed (BlockQ8_0* dst = &y[b])
            {
                dst->D = src->D;
                for (int j = 0; j < 32; j++) dst->Qs[j] = (sbyte)(Quant(src, j) - 16);
            }
    }

    /// <summary>Widens a whole Q5_0 matrix (file layout) to Q8_0 file layout.</summary>
    internal static byte[] WidenToQ8_0(ReadOnlySpan<byte> q5, long elements)
    {
        var q8 = new byte[elements / 32 * BlockQ8_0.Bytes];
        WidenToQ8_0(MemoryMarshal.Cast<byte, BlockQ5_0>(q5), MemoryMarshal.Cast<byte, BlockQ8_0>(q8.AsSpan()));
        return q8;
    }

    private static int Check(int elements, int blocks)
    {
        if (elements % 32 != 0) throw new ArgumentException($"Length {elements} is not a multiple of 32.");
        if (blocks < elements / 32) throw new ArgumentException($"{blocks} blocks cannot hold {elements} elements.");
        return elements / 32;
    }
}
