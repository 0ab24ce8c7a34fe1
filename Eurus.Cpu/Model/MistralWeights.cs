using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;

namespace Eurus.Cpu.Model;

/// <summary>All weights of a Mistral model as views into a mapped GGUF file (validated by <see cref="MistralConfig"/>).</summary>
internal sealed unsafe class MistralWeights
{
    /// <summary>Token embedding table, [vocab rows × dim].</summary>
    public required WeightMatrix TokenEmbedding { get; init; }
    /// <summary>Final RMSNorm, [dim].</summary>
    public required float* OutputNorm { get; init; }
    /// <summary>Output projection (lm_head), [vocab rows × dim]; the embedding table when the file ties them.</summary>
    public required WeightMatrix Output { get; init; }
    /// <summary>Transformer blocks.</summary>
    public required LayerWeights[] Layers { get; init; }

    public static MistralWeights FromGguf(GgufFile f, MistralConfig c)
    {
        WeightMatrix M(string name)
        {
            var t = f.GetTensor(name);
            return new WeightMatrix(f.GetPointer(t), t.Type, (int)t.RowCount, (int)t.RowLength);
        }
        float* V(string name) => (float*)f.GetPointer(f.GetTensor(name));
        var layers = new LayerWeights[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            layers[l] = new LayerWeights
            {
                AttnNorm = V($"blk.{l}.attn_norm.weight"),
                Wq = M($"blk.{l}.attn_q.weight"),
                Wk = M($"blk.{l}.attn_k.weight"),
                Wv = M($"blk.{l}.attn_v.weight"),
                Wo = M($"blk.{l}.attn_output.weight"),
                FfnNorm = V($"blk.{l}.ffn_norm.weight"),
                Gate = M($"blk.{l}.ffn_gate.weight"),
                Up = M($"blk.{l}.ffn_up.weight"),
                Down = M($"blk.{l}.ffn_down.weight"),
            };
        }
        return new MistralWeights
        {
            TokenEmbedding = M("token_embd.weight"),
            OutputNorm = V("output_norm.weight"),
            Output = f.TryGetTensor("output.weight", out _) ? M("output.weight") : M("token_embd.weight"),
            Layers = layers,
        };
    }
}
