using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// One Q5_1 block (ggml layout, 24 bytes): fp16 scale <c>d</c> and minimum <c>m</c>, 32 fifth bits (<c>qh</c>, as in
/// <see cref="BlockQ5_0"/>: element j's in bit j), then 16 bytes of nibbles in <see cref="BlockQ4_0"/>'s order. Quant q
/// (0–31) decodes to <c>q · d + m</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = Bytes)]
internal unsafe struct BlockQ5_1
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 32;

    /// <summary>Bytes per block.</summary>
    public const int Bytes = 24;

    /// <summary>Byte offset of <see cref="M"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int MOffset = 2;

    /// <summary>Byte offset of <see cref="Qh"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QhOffset = 4;

    /// <summary>Byte offset of <see cref="Qs"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QsOffset = 8;

    /// <summary>Scale.</summary>
    public Half D;

    /// <summary>Minimum (added to every element).</summary>
    public Half M;

    /// <summary>Fifth bits, element j in bit j (little-endian).</summary>
    public fixed byte Qh[4];

    /// <summary>Low four bits, packed as in <see cref="BlockQ4_0"/>.</summary>
    public fixed byte Qs[Elements / 2];
}
