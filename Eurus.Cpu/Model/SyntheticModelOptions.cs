using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Model;

/// <summary>Shape and contents of a synthetic Mistral/llama-architecture model (see <see cref="SyntheticModel"/>).</summary>
public sealed record SyntheticModelOptions
{
    /// <summary>Embedding dimension.</summary>
    public int Dim { get; init; } = 64;
    /// <summary>Transformer layers.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Query heads.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Key/value heads (grouped-query attention when fewer than <see cref="Heads"/>).</summary>
    public int KvHeads { get; init; } = 2;
    /// <summary>SwiGLU hidden size.</summary>
    public int FeedForward { get; init; } = 128;
    /// <summary>Vocabulary size (ignored when <see cref="VocabularyFrom"/> is set).</summary>
    public int Vocab { get; init; } = 512;
    /// <summary>Trained context length written to <c>llama.context_length</c>.</summary>
    public int ContextLength { get; init; } = 512;
    /// <summary>RMSNorm epsilon.</summary>
    public float RmsEps { get; init; } = 1e-5f;
    /// <summary>RoPE base frequency.</summary>
    public float RopeTheta { get; init; } = 10000f;
    /// <summary>Sliding attention window written to <c>llama.attention.sliding_window</c>; null writes none.</summary>
    public int? SlidingWindow { get; init; }
    /// <summary>Type of the 2-D weight matrices (norms stay F32).</summary>
    public GgmlType WeightType { get; init; } = GgmlType.F32;
    /// <summary>
    /// A llama-quantize mixture choosing each matrix's type (see <see cref="Quantization.QuantMixRules"/>); when set it
    /// replaces <see cref="WeightType"/>.
    /// </summary>
    public Quantization.QuantMix? Mix { get; init; }
    /// <summary>
    /// What the weights compute: <see cref="SyntheticWeights.Random"/> (the default) or the constructed copying circuit
    /// of <see cref="SyntheticWeights.Induction"/>, whose greedy continuation repeats the passage a prompt ends in.
    /// </summary>
    public SyntheticWeights Weights { get; init; } = SyntheticWeights.Random;
    /// <summary>Seed of the weights; equal seeds give equal files.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>A GGUF file whose tokenizer (tokens, scores, types, special ids) is copied.</summary>
    public string? VocabularyFrom { get; init; }
    /// <summary>Value of <c>general.name</c>.</summary>
    public string Name { get; init; } = "synthetic";

    /// <summary>A tiny model for unit tests (GQA 2:1, two layers).</summary>
    public static SyntheticModelOptions Tiny => new();

    /// <summary>The exact Eurus-7B / Mistral-7B-v0.1 shape.</summary>
    public static SyntheticModelOptions Eurus7B => new()
    {
        Dim = 4096, Layers = 32, Heads = 32, KvHeads = 8, FeedForward = 14336, Vocab = 32000,
        ContextLength = 32768, RmsEps = 1e-5f, RopeTheta = 10000f, Name = "synthetic-eurus-7b",
    };

    /// <summary>Head dimension.</summary>
    public int HeadDim => Dim / Heads;
}
