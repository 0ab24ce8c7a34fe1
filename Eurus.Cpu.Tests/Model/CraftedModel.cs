using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;

namespace Eurus.Cpu.Tests.Model;

/// <summary>
/// Writes llama-architecture GGUF files of any shape, however odd (head dimension 1 or 2, hundreds of heads, a 2^31
/// context, one layer), with F32 weights and a synthetic vocabulary: the header says exactly what the test asks, every
/// tensor has the shape that header implies, so the file is consistent and only its numbers are absurd.
/// </summary>
public sealed record CraftedModel
{
    public int Dim { get; init; } = 8;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 2;
    public int FeedForward { get; init; } = 16;
    public int Vocab { get; init; } = 400;
    public long Context { get; init; } = 64;
    public int Layers { get; init; } = 1;
    /// <summary>rope.dimension_count; null writes the head dimension.</summary>
    public long? RopeDim { get; init; }
    public int? SlidingWindow { get; init; }
    /// <summary>Extra or overriding metadata written after the consistent keys (e.g. a 0 dimension).</summary>
    public Dictionary<string, object> Override { get; init; } = [];

    public int HeadDim => Heads == 0 ? 0 : Dim / Heads;

    /// <summary>Writes the file into <paramref name="dir"/> and returns its path.</summary>
    public string Write(string dir, string name)
    {
        string path = Path.Combine(dir, name + ".gguf");
        var (tokens, scores, types) = SyntheticVocabulary.Build(Vocab);
        var w = new GgufWriter(path);
        var meta = new Dictionary<string, object>
        {
            ["general.architecture"] = "llama",
            ["general.name"] = name,
            ["llama.context_length"] = (uint)Context,
            ["llama.embedding_length"] = (uint)Dim,
            ["llama.block_count"] = (uint)Layers,
            ["llama.feed_forward_length"] = (uint)FeedForward,
            ["llama.rope.dimension_count"] = (uint)(RopeDim ?? HeadDim),
            ["llama.attention.head_count"] = (uint)Heads,
            ["llama.attention.head_count_kv"] = (uint)KvHeads,
            ["llama.attention.layer_norm_rms_epsilon"] = 1e-5f,
            ["llama.rope.freq_base"] = 10000f,
            ["tokenizer.ggml.model"] = "llama",
            ["tokenizer.ggml.tokens"] = GgufValue.Array(tokens),
            ["tokenizer.ggml.scores"] = GgufValue.Array(scores),
            ["tokenizer.ggml.token_type"] = GgufValue.Array(types),
            ["tokenizer.ggml.bos_token_id"] = 1u,
            ["tokenizer.ggml.eos_token_id"] = 2u,
            ["tokenizer.ggml.unknown_token_id"] = 0u,
        };
        if (SlidingWindow is int sw) meta["llama.attention.sliding_window"] = (uint)sw;
        foreach (var (k, v) in Override) meta[k] = v;
        foreach (var (k, v) in meta) w.Add(k, v);

        int kvDim = KvHeads * HeadDim;
        ulong seed = 0x5EED;
        void Matrix(string n, long cols, long rows) => w.AddTensor(n, GgmlType.F32, [cols, rows], sink =>
        {
            float a = 1.7f / MathF.Sqrt(Math.Max(1, cols)) * (n == "token_embd.weight" ? MathF.Sqrt(cols) : 1);
            var row = new float[cols];
            ulong s = seed++ * 0x9E3779B97F4A7C15UL;
            for (long r = 0; r < rows; r++)
            {
                for (long c = 0; c < cols; c++)
                {
                    s = s * 6364136223846793005UL + 1442695040888963407UL;
                    row[c] = a * ((s >> 40) * (1f / (1 << 24)) * 2f - 1f);
                }
                sink.Write(row);
            }
        });
        void Norm(string n) => w.AddTensor(n, [Dim], Enumerable.Range(0, Dim).Select(i => 1f + 0.01f * (i % 7)).ToArray());
        Matrix("token_embd.weight", Dim, Vocab);
        for (int l = 0; l < Layers; l++)
        {
            Norm($"blk.{l}.attn_norm.weight");
            Matrix($"blk.{l}.attn_q.weight", Dim, Dim);
            Matrix($"blk.{l}.attn_k.weight", Dim, kvDim);
            Matrix($"blk.{l}.attn_v.weight", Dim, kvDim);
            Matrix($"blk.{l}.attn_output.weight", Dim, Dim);
            Norm($"blk.{l}.ffn_norm.weight");
            Matrix($"blk.{l}.ffn_gate.weight", Dim, FeedForward);
            Matrix($"blk.{l}.ffn_up.weight", Dim, FeedForward);
            Matrix($"blk.{l}.ffn_down.weight", FeedForward, Dim);
        }
        Norm("output_norm.weight");
        Matrix("output.weight", Dim, Vocab);
        w.Complete();
        return path;
    }
}
