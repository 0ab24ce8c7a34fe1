using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// One Q8_0 block (ggml layout, 34 bytes): an fp16 scale <c>d</c> followed by 32 signed bytes.
/// Element i decodes to <c>qs[i] · d</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = Bytes)]
public unsafe struct BlockQ8_0
{
    /// <summary>Elements per block.</summary>
    public const int Elements = 32;

    /// <summary>Bytes per block.</summary>
    public const int Bytes = 34;

    /// <summary>Byte offset of <see cref="Qs"/> (kernels address the block through pointers; a test checks it against the layout).</summary>
    internal const int QsOffset = 2;

    /// <summary>Scale.</summary>
    public Half D;

    /// <summary>Quantized values.</summary>
    public fixed sbyte Qs[Elements];
}
