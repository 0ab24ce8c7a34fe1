using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Model;

/// <summary>
/// Hyperparameters of a Mistral/llama-architecture model, read from GGUF <c>llama.*</c> keys and checked against
/// the tensor shapes. A file whose keys and tensors disagree, or that holds tensor types the engine cannot run,
/// fails here with a <see cref="GgufFormatException"/> that says what is wrong.
/// </summary>
public sealed record MistralConfig
{
    /// <summary>Embedding (model) dimension.</summary>
    public required int Dim { get; init; }
    /// <summary>Number of transformer layers.</summary>
    public required int Layers { get; init; }
    /// <summary>Query heads.</summary>
    public required int Heads { get; init; }
    /// <summary>Key/value heads (GQA: each serves <c>Heads / KvHeads</c> query heads).</summary>
    public required int KvHeads { get; init; }
    /// <summary>SwiGLU hidden dimension.</summary>
    public required int FeedForward { get; init; }
    /// <summary>Vocabulary size (rows of the embedding).</summary>
    public required int Vocab { get; init; }
    /// <summary>RMSNorm epsilon.</summary>
    public required float RmsEps { get; init; }
    /// <summary>RoPE base frequency θ.</summary>
    public required float RopeTheta { get; init; }
    /// <summary>Number of rotated dimensions per head (usually the head dimension).</summary>
    public required int RopeDim { get; init; }
    /// <summary>Context length the model was trained for.</summary>
    public required int ContextLength { get; init; }
    /// <summary>Sliding attention window from the file, or null when the file has none (full causal attention).</summary>
    public int? SlidingWindow { get; init; }

    /// <summary>Dimension of one head.</summary>
    public int HeadDim => Dim / Heads;
    /// <summary>Width of the K and V projections.</summary>
    public int KvDim => KvHeads * HeadDim;
    /// <summary>Query heads per KV head.</summary>
    public int GroupSize => Heads / KvHeads;

    // Sanity bounds far above any real model; they stop absurd headers before any allocation.
    private const int MaxDim = 1 << 16, MaxLayers = 1024, MaxHeads = 1024, MaxFfn = 1 << 20, MaxVocab = 1 << 22, MaxContext = 1 << 24;

    /// <summary>Reads and validates the configuration of <paramref name="file"/>.</summary>
    public static MistralConfig FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var m = file.Metadata;
        string arch = m.GetString("general.architecture");
        if (arch is not ("llama" or "mistral"))
            throw Fail(file, $"architecture '{arch}' is not supported (Eurus.Cpu runs 'llama'-architecture models such as Mistral and Eurus).");
        int Key(string k, int max, int? fallback = null)
        {
            string key = $"{arch}.{k}";
            long v = fallback is int f && !m.ContainsKey(key) ? f : m.GetInt64(key);
            if (v <= 0 || v > max) throw Fail(file, $"metadata '{key}' = {v} is out of range (1 to {max}).");
            return (int)v;
        }
        int dim = Key("embedding_length", MaxDim);
        int heads = Key("attention.head_count", MaxHeads);
        int kvHeads = Key("attention.head_count_kv", MaxHeads, heads);
        if (dim % heads != 0) throw Fail(file, $"embedding_length {dim} is not a multiple of head_count {heads}.");
        if (heads % kvHeads != 0) throw Fail(file, $"head_count {heads} is not a multiple of head_count_kv {kvHeads}.");
        int headDim = dim / heads;
        int ropeDim = Key("rope.dimension_count", MaxDim, headDim);
        if (ropeDim > headDim || ropeDim % 2 != 0) throw Fail(file, $"rope.dimension_count {ropeDim} must be even and at most the head dimension {headDim}.");
        float eps = m.GetFloat32OrDefault($"{arch}.attention.layer_norm_rms_epsilon", 1e-5f);
        if (!(eps > 0 && eps < 1)) throw Fail(file, $"RMS epsilon {eps} is out of range.");
        float theta = m.GetFloat32OrDefault($"{arch}.rope.freq_base", 10000f);
        if (!(theta > 1 && float.IsFinite(theta))) throw Fail(file, $"rope.freq_base {theta} is out of range.");
        int? window = m.ContainsKey($"{arch}.attention.sliding_window") ? Key("attention.sliding_window", MaxContext) : null;

        var embd = file.TryGetTensor("token_embd.weight", out var e) ? e : throw Fail(file, "tensor 'token_embd.weight' is missing.");
        if (embd.Dimensions.Count != 2 || embd.RowLength != dim)
            throw Fail(file, $"tensor 'token_embd.weight' has shape [{string.Join(", ", embd.Dimensions)}], expected [{dim}, vocab].");
        if (embd.RowCount > MaxVocab) throw Fail(file, $"vocabulary of {embd.RowCount} tokens is too large.");
        int vocab = (int)embd.RowCount;
        if (m.ContainsKey($"{arch}.vocab_size") && m.GetInt64($"{arch}.vocab_size") != vocab)
            throw Fail(file, $"{arch}.vocab_size = {m.GetInt64($"{arch}.vocab_size")} but token_embd.weight has {vocab} rows.");

        var config = new MistralConfig
        {
            Dim = dim,
            Layers = Key("block_count", MaxLayers),
            Heads = heads,
            KvHeads = kvHeads,
            FeedForward = Key("feed_forward_length", MaxFfn),
            Vocab = vocab,
            RmsEps = eps,
            RopeTheta = theta,
            RopeDim = ropeDim,
            ContextLength = Key("context_length", MaxContext),
            SlidingWindow = window,
        };
        config.CheckTensors(file);
        return config;
    }

    /// <summary>Every tensor the forward pass needs, with its expected shape (ggml order); output.weight may be absent (tied).</summary>
    internal IEnumerable<(string Name, long[] Shape)> ExpectedTensors()
    {
        yield return ("token_embd.weight", [Dim, Vocab]);
        yield return ("output_norm.weight", [Dim]);
        for (int l = 0; l < Layers; l++)
        {
            yield return ($"blk.{l}.attn_norm.weight", [Dim]);
            yield return ($"blk.{l}.attn_q.weight", [Dim, Dim]);
            yield return ($"blk.{l}.attn_k.weight", [Dim, KvDim]);
            yield return ($"blk.{l}.attn_v.weight", [Dim, KvDim]);
            yield return ($"blk.{l}.attn_output.weight", [Dim, Dim]);
            yield return ($"blk.{l}.ffn_norm.weight", [Dim]);
            yield return ($"blk.{l}.ffn_gate.weight", [Dim, FeedForward]);
            yield return ($"blk.{l}.ffn_up.weight", [Dim, FeedForward]);
            yield return ($"blk.{l}.ffn_down.weight", [FeedForward, Dim]);
        }
    }

    private void CheckTensors(GgufFile file)
    {
        var expected = ExpectedTensors().ToList();
        if (file.TryGetTensor("output.weight", out _)) expected.Add(("output.weight", [Dim, Vocab]));
        foreach (var (name, shape) in expected)
        {
            if (!file.TryGetTensor(name, out var t)) throw Fail(file, $"tensor '{name}' is missing.");
            if (!t.Dimensions.SequenceEqual(shape))
                throw Fail(file, $"tensor '{name}' has shape [{string.Join(", ", t.Dimensions)}], expected [{string.Join(", ", shape)}] from the metadata.");
            if (shape.Length == 1 && t.Type != GgmlType.F32)
                throw Fail(file, $"norm tensor '{name}' has type {t.Type}; norms must be F32.");
            if (!GgmlTypeInfo.IsSupported(t.Type))
                throw Fail(file, $"tensor '{name}' has type {t.Type}, which Eurus.Cpu does not support yet (supported: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, Q4_K, Q5_K, Q6_K).");
        }
    }

    private static GgufFormatException Fail(GgufFile file, string problem) => new(file.FilePath, -1, problem);
}
