using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// One Q4_0 block (ggml layout, 18 bytes): an fp16 scale <c>d</c> followed by 16 bytes of nibbles.
/// <para>Nibble order (the one place it is documented): byte j holds element j in its low nibble and
/// element j + 16 in its high nibble, so the low nibbles are elements 0–15 and the high nibbles 16–31.
/// A nibble q decodes to <c>(q − 8) · d</c>.</para>
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = Bytes)]
public unsafe struct BlockQ4_0
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 32;

    /// <summary>Bytes per block.</summary>
    public const int Bytes = 18;

    /// <summary>Byte offset of <see cref="Qs"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QsOffset = 2;

    /// <summary>Scale.</summary>
    public Half D;

    /// <summary>Packed nibbles (see the type remarks for the order).</summary>
    public fixed byte Qs[Elements / 2];
}
