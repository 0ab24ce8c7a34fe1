using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// One Q6_K super-block (ggml layout, 210 bytes, 256 elements in sixteen sub-blocks of 16): 128 bytes of low
/// nibbles <c>ql</c>, 64 bytes of high bit pairs <c>qh</c>, sixteen signed 8-bit sub-block scales, fp16 <c>d</c> last.
/// <para>The super-block is two halves of 128 elements; half h uses <c>ql[64h…64h+63]</c> and <c>qh[32h…32h+31]</c>.
/// For l &lt; 32 within half h (elements counted from 128h): element l has low bits <c>ql[l] &amp; 15</c> and high
/// bits <c>qh[l] &amp; 3</c>; element l+32 <c>ql[l+32] &amp; 15</c> and <c>(qh[l] &gt;&gt; 2) &amp; 3</c>; element l+64
/// <c>ql[l] &gt;&gt; 4</c> and <c>(qh[l] &gt;&gt; 4) &amp; 3</c>; element l+96 <c>ql[l+32] &gt;&gt; 4</c> and
/// <c>qh[l] &gt;&gt; 6</c>. So over a half, the low nibbles of <c>ql</c> are elements 0…63 in order and the high
/// nibbles 64…127. The 6-bit quant q (0…63) of element i decodes to <c>d·scales[i / 16]·(q − 32)</c>.</para>
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = Bytes)]
public unsafe struct BlockQ6_K
{
    /// <summary>Elements per super-block.</summary>
    public const int Elements = 256;

    /// <summary>Bytes per super-block.</summary>
    public const int Bytes = 210;

    /// <summary>Byte offset of <see cref="Qh"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QhOffset = 128;

    /// <summary>Byte offset of <see cref="Scales"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int ScalesOffset = 192;

    /// <summary>Byte offset of <see cref="D"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int DOffset = 208;

    /// <summary>Low four bits of the quants (see the type remarks).</summary>
    public fixed byte Ql[Elements / 2];

    /// <summary>High two bits of the quants.</summary>
    public fixed byte Qh[Elements / 4];

    /// <summary>Signed sub-block scales, one per 16 elements.</summary>
    public fixed sbyte Scales[Elements / 16];

    /// <summary>Super-block scale.</summary>
    public Half D;
}
