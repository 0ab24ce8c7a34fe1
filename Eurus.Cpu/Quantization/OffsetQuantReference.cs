using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// Q4_1 and Q5_1 (the "_1" formats: scale and minimum per 32 elements, <see cref="BlockQ4_1"/>, <see cref="BlockQ5_1"/>):
/// the reference dequantization (llama.cpp's <c>dequantize_row_q4_1</c> / <c>q5_1</c>: q·d + m in float), and the split
/// into a Q8_0 block of the same quants plus the minimum with which Eurus.Cpu runs them (<see cref="Kernels.OffsetQuantMatrix"/>).
/// </summary>
internal static unsafe class OffsetQuantReference
{
    /// <summary>Decodes Q4_1 blocks.</summary>
    public static void DequantizeQ4_1(ReadOnlySpan<BlockQ4_1> x, Span<float> y)
    {
        if (y.Length != x.Length * 32) throw new ArgumentException($"{x.Length} blocks decode to {x.Length * 32} values, not {y.Length}.");
        for (int b = 0; b < x.Length; b++)
            fixed (BlockQ4_1* blk = &x[b])
            {
                float d = (float)blk->D, m = (float)blk->M;
                for (int j = 0; j < 32; j++) y[b * 32 + j] = Q5_0Reference.Nibble(blk->Qs, j) * d + m;
            }
    }

    /// <summary>Decodes Q5_1 blocks.</summary>
    public static void DequantizeQ5_1(ReadOnlySpan<BlockQ5_1> x, Span<float> y)
    {
        if (y.Length != x.Length * 32) throw new ArgumentException($"{x.Length} blocks decode to {x.Length * 32} values, not {y.Length}.");
        for (int b = 0; b < x.Length; b++)
            fixed (BlockQ5_1* blk = &x[b])
            {
                float d = (float)blk->D, m = (float)blk->M;
                uint qh = *(uint*)blk->Qh;
                for (int j = 0; j < 32; j++) y[b * 32 + j] = Q5_0Reference.Quant(blk->Qs, qh, j) * d + m;
            }
    }

    /// <summary>
    /// One Q4_1/Q5_1 block as a Q8_0 block of the same quants and scale (q fits an int8 exactly), returning the block's
    /// minimum: the block's values are then exactly <c>dst</c>'s plus the minimum.
    /// </summary>
    public static float SplitToQ8_0(GgmlType type, ReadOnlySpan<byte> block, ref BlockQ8_0 dst)
    {
        if (block.Length != GgmlTypeInfo.BlockBytes(type) || type is not (GgmlType.Q4_1 or GgmlType.Q5_1))
            throw new ArgumentException($"Not one {type} block.");
        fixed (byte* p = block)
        fixed (BlockQ8_0* o = &dst)
        {
            bool five = type == GgmlType.Q5_1;
            uint qh = five ? *(uint*)(p + 4) : 0;
            byte* qs = p + (five ? 8 : 4);
            o->D = *(Half*)p;
            for (int j = 0; j < 32; j++) o->Qs[j] = (sbyte)(five ? Q5_0Reference.Quant(qs, qh, j) : Q5_0Reference.Nibble(qs, j));
            return (float)*(Half*)(p + 2);
        }
    }
}
