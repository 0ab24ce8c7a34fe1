using Eurus.Cpu.Kernels;

namespace Eurus.Cpu.Model;

/// <summary>One transformer block's weights: views into the mapped file (nothing is copied).</summary>
internal sealed unsafe class LayerWeights
{
    /// <summary>RMSNorm before attention, [dim].</summary>
    public required float* AttnNorm { get; init; }
    /// <summary>Query projection, [dim rows × dim cols].</summary>
    public required WeightMatrix Wq { get; init; }
    /// <summary>Key projection, [kv_dim rows × dim cols].</summary>
    public required WeightMatrix Wk { get; init; }
    /// <summary>Value projection, [kv_dim rows × dim cols].</summary>
    public required WeightMatrix Wv { get; init; }
    /// <summary>Attention output projection, [dim rows × dim cols].</summary>
    public required WeightMatrix Wo { get; init; }
    /// <summary>RMSNorm before the FFN, [dim].</summary>
    public required float* FfnNorm { get; init; }
    /// <summary>SwiGLU gate (w1), [ffn rows × dim cols].</summary>
    public required WeightMatrix Gate { get; init; }
    /// <summary>SwiGLU up (w3), [ffn rows × dim cols].</summary>
    public required WeightMatrix Up { get; init; }
    /// <summary>SwiGLU down (w2), [dim rows × ffn cols].</summary>
    public required WeightMatrix Down { get; init; }
}
