using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// One Q4_1 block (ggml layout, 20 bytes): fp16 scale <c>d</c> and fp16 minimum <c>m</c>, then 16 bytes of nibbles in
/// <see cref="BlockQ4_0"/>'s order (low nibbles elements 0–15, high nibbles 16–31). Quant q (0–15) decodes to
/// <c>q · d + m</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = Bytes)]
internal unsafe struct BlockQ4_1
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 32;

    /// <summary>Bytes per block.</summary>
    public const int Bytes = 20;

    /// <summary>Byte offset of <see cref="M"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int MOffset = 2;

    /// <summary>Byte offset of <see cref="Qs"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QsOffset = 4;

    /// <summary>Scale.</summary>
    public Half D;

    /// <summary>Minimum (added to every element).</summary>
    public Half M;

    /// <summary>Four-bit quants, packed as in <see cref="BlockQ4_0"/>.</summary>
    public fixed byte Qs[Elements / 2];
}
