using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Kernels;

/// <summary>The dot-product seam the matmul calls: dispatches a weight row to the widest available path.</summary>
internal static class VecDot
{
    public static float Row(GgmlType type, ReadOnlySpan<byte> row, in PreparedActivations x) => VecDotReference.Row(type, row, x);
}
