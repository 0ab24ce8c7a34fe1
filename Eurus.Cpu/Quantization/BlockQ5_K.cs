using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// One Q5_K super-block (ggml layout, 176 bytes, 256 elements): fp16 <c>d</c> and <c>dmin</c>, twelve bytes of
/// 6-bit scales and mins packed exactly as in <see cref="BlockQ4_K"/>, 32 bytes of fifth bits, 128 bytes of nibbles.
/// <para>The low four bits of each quant are stored as in <see cref="BlockQ4_K"/> (chunk c of 64: low nibbles of
/// <c>qs[32c+l]</c> are element 64c+l, high nibbles element 64c+32+l). The fifth bit of element 64c+l is bit 2c of
/// <c>qh[l]</c>, that of element 64c+32+l bit 2c+1. Quants are 0…31 and decode to <c>d·sc[j]·q − dmin·m[j]</c>.</para>
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = Bytes)]
public unsafe struct BlockQ5_K
{
    /// <summary>Elements per super-block.</summary>
    public const int Elements = 256;

    /// <summary>Bytes per super-block.</summary>
    public const int Bytes = 176;

    /// <summary>Byte offset of <see cref="Scales"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int ScalesOffset = 4;

    /// <summary>Byte offset of <see cref="Qh"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QhOffset = 16;

    /// <summary>Byte offset of <see cref="Qs"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QsOffset = 48;

    /// <summary>Super-block scale of the sub-block scales.</summary>
    public Half D;

    /// <summary>Super-block scale of the sub-block mins.</summary>
    public Half DMin;

    /// <summary>Packed 6-bit scales and mins (see <see cref="BlockQ4_K"/>).</summary>
    public fixed byte Scales[12];

    /// <summary>Fifth bits (see the type remarks).</summary>
    public fixed byte Qh[Elements / 8];

    /// <summary>Low four bits, packed as in <see cref="BlockQ4_K"/>.</summary>
    public fixed byte Qs[Elements / 2];
}
