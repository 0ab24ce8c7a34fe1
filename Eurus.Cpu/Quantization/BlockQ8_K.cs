using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// One Q8_K block (ggml layout, 292 bytes): the activation format the K-quant dot products consume. A float scale
/// <c>d</c>, 256 signed bytes (element i decodes to <c>qs[i]·d</c>), and the sums of each 16 consecutive quants
/// (<c>bsums</c>), which let a dot product remove the weights' offsets and mins without touching every element.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = Bytes)]
public unsafe struct BlockQ8_K
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 256;

    /// <summary>Bytes per block.</summary>
    public const int Bytes = 292;

    /// <summary>Byte offset of <see cref="Qs"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QsOffset = 4;

    /// <summary>Byte offset of <see cref="BSums"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int BSumsOffset = 260;

    /// <summary>Scale (a full float, unlike the weight formats).</summary>
    public float D;

    /// <summary>Quantized values.</summary>
    public fixed sbyte Qs[Elements];

    /// <summary>Sums of each 16 consecutive <see cref="Qs"/>.</summary>
    public fixed short BSums[Elements / 16];
}
