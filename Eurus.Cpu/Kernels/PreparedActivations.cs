using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Kernels;

/// <summary>One token's activation vector in the form a weight type's dot product consumes.</summary>
internal readonly ref struct PreparedActivations
{
    /// <summary>Q8_0 blocks, for Q8_0 and Q4_0 weights.</summary>
    public ReadOnlySpan<BlockQ8_0> Q8 { get; init; }
    /// <summary>Plain floats, for F32 weights.</summary>
    public ReadOnlySpan<float> F32 { get; init; }
    /// <summary>F16-rounded values, for F16 weights.</summary>
    public ReadOnlySpan<Half> F16 { get; init; }
    /// <summary>BF16-rounded values (raw bits), for BF16 weights.</summary>
    public ReadOnlySpan<ushort> BF16 { get; init; }
}
