using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>Quantizes activation vectors to Q8_0 blocks for the integer dot products.</summary>
internal static class ActivationQuantizer
{
    /// <summary>Same rounding as the reference quantizer (round half away from zero).</summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<BlockQ8_0> y) => QuantReference.QuantizeQ8_0(x, y);
}
