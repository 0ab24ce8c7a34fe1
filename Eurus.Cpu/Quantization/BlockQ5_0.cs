using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// One Q5_0 block (ggml layout, 22 bytes): an fp16 scale <c>d</c>, 32 fifth bits (<c>qh</c>, little-endian uint32),
/// then 16 bytes of nibbles in <see cref="BlockQ4_0"/>'s order (low nibbles elements 0–15, high nibbles 16–31).
/// Element j's fifth bit is bit j of <c>qh</c>; its 5-bit quant q decodes to <c>(q − 16) · d</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = Bytes)]
public unsafe struct BlockQ5_0
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 32;

    /// <summary>Bytes per block.</summary>
    public const int Bytes = 22;

    /// <summary>Byte offset of <see cref="Qh"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QhOffset = 2;

    /// <summary>Byte offset of <see cref="Qs"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QsOffset = 6;

    /// <summary>Scale.</summary>
    public Half D;

    /// <summary>Fifth bits, element j in bit j (little-endian).</summary>
    public fixed byte Qh[4];

    /// <summary>Low four bits, packed as in <see cref="BlockQ4_0"/>.</summary>
    public fixed byte Qs[Elements / 2];
}
