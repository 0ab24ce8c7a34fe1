using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// One Q4_K super-block (ggml layout, 144 bytes, 256 elements in eight sub-blocks of 32): fp16 <c>d</c> and
/// <c>dmin</c>, twelve bytes of packed 6-bit sub-block scales and mins, then 128 bytes of nibbles.
/// <para>Scales (the one place the packing is documented; Q5_K uses the same): sub-block j has a 6-bit scale
/// <c>sc[j]</c> and a 6-bit min <c>m[j]</c>. For j &lt; 4, <c>sc[j] = s[j] &amp; 63</c> and <c>m[j] = s[j+4] &amp; 63</c>;
/// for j ≥ 4 the low four bits sit in <c>s[j+4]</c> (scale in the low nibble, min in the high nibble) and the top two
/// bits in the otherwise unused top bits of <c>s[j−4]</c> (scale) and <c>s[j]</c> (min).</para>
/// <para>Quants: the 256 elements form four chunks of 64; chunk c is the 32 bytes <c>qs[32c…32c+31]</c>, whose low
/// nibbles are elements 64c…64c+31 (sub-block 2c) and high nibbles 64c+32…64c+63 (sub-block 2c+1).
/// Element i of sub-block j decodes to <c>d·sc[j]·q − dmin·m[j]</c>.</para>
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = Bytes)]
public unsafe struct BlockQ4_K
{
    /// <summary>Elements per super-block.</summary>
    public const int Elements = 256;

    /// <summary>Bytes per super-block.</summary>
    public const int Bytes = 144;

    /// <summary>Byte offset of <see cref="Scales"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int ScalesOffset = 4;

    /// <summary>Byte offset of <see cref="Qs"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QsOffset = 16;

    /// <summary>Super-block scale of the sub-block scales.</summary>
    public Half D;

    /// <summary>Super-block scale of the sub-block mins.</summary>
    public Half DMin;

    /// <summary>Packed 6-bit scales and mins (see the type remarks).</summary>
    public fixed byte Scales[12];

    /// <summary>Packed nibbles (see the type remarks for the order).</summary>
    public fixed byte Qs[Elements / 2];
}
