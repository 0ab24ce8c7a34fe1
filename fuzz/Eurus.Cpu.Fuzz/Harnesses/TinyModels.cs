using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Fuzzing;

/// <summary>
/// Complete, loadable GGUF models of a few KB, the GGUF harness's seeds: a 16-token SentencePiece vocabulary (with a
/// byte token and a user-defined token), one layer, tied output (no output.weight) or not, one weight type for the
/// matrices. <see cref="SyntheticModel"/> needs at least 360 tokens, which would make seeds of tens of KB.
/// </summary>
public static class TinyModels
{
    // <unk> <s> </s>, a byte token, a user-defined token, then normal pieces scored so that longer ones merge first.
    private static readonly (string Text, int Type)[] Vocab =
    [
        ("<unk>", 2), ("<s>", 3), ("</s>", 3), ("<0x41>", 6), ("[X]", 4), ("▁", 1), ("a", 1), ("b", 1),
        ("c", 1), ("e", 1), ("h", 1), ("t", 1), ("▁a", 1), ("he", 1), ("▁t", 1), ("▁the", 1),
    ];

    /// <summary>The seed set: name → file bytes.</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("f32-dim8.gguf", Build(GgmlType.F32, dim: 8, heads: 2, kvHeads: 1, ffn: 16, tied: true, window: null));
        yield return ("f32-dim8-untied-window.gguf", Build(GgmlType.F32, dim: 8, heads: 2, kvHeads: 2, ffn: 8, tied: false, window: 2));
        yield return ("f16-dim8.gguf", Build(GgmlType.F16, dim: 8, heads: 1, kvHeads: 1, ffn: 8, tied: true, window: null));
        yield return ("bf16-dim8.gguf", Build(GgmlType.BF16, dim: 8, heads: 2, kvHeads: 1, ffn: 8, tied: false, window: null));
        foreach (var t in new[] { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_1, GgmlType.Q5_1 })
            yield return ($"{t.ToString().ToLowerInvariant()}-dim32.gguf", Build(t, dim: 32, heads: 4, kvHeads: 2, ffn: 32, tied: true, window: null));
    }

    /// <summary>Writes a tiny model to <paramref name="path"/>.</summary>
    public static void Write(string path, GgmlType type, int dim, int heads, int kvHeads, int ffn, bool tied, int? window, int contextLength = 16, ulong seed = 1)
    {
        int vocab = Vocab.Length;
        int kvDim = kvHeads * (dim / heads);
        var w = new GgufWriter(path);
        w.Add("general.architecture", "llama");
        w.Add("llama.context_length", (uint)contextLength);
        w.Add("llama.embedding_length", (uint)dim);
        w.Add("llama.block_count", 1u);
        w.Add("llama.feed_forward_length", (uint)ffn);
        w.Add("llama.rope.dimension_count", (uint)(dim / heads));
        w.Add("llama.attention.head_count", (uint)heads);
        w.Add("llama.attention.head_count_kv", (uint)kvHeads);
        w.Add("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        w.Add("llama.rope.freq_base", 10000f);
        if (window is int win) w.Add("llama.attention.sliding_window", (uint)win);
        w.Add("tokenizer.ggml.model", "llama");
        w.Add("tokenizer.ggml.tokens", GgufValue.Array(Vocab.Select(v => v.Text).ToArray()));
        w.Add("tokenizer.ggml.scores", GgufValue.Array(Vocab.Select((v, i) => i < 5 ? 0f : -(i - 5) / (float)v.Text.Length).ToArray()));
        w.Add("tokenizer.ggml.token_type", GgufValue.Array(Vocab.Select(v => v.Type).ToArray()));
        w.Add("tokenizer.ggml.bos_token_id", 1u);
        w.Add("tokenizer.ggml.eos_token_id", 2u);
        w.Add("tokenizer.ggml.unknown_token_id", 0u);
        w.Add("tokenizer.ggml.add_bos_token", true);

        var rng = new Random((int)seed);
        void Matrix(string name, int cols, int rows, GgmlType t) => w.AddTensor(name, t, [cols, rows], Encode(t, cols, rows, rng, norm: false));
        void Norm(string name) => w.AddTensor(name, GgmlType.F32, [dim], Encode(GgmlType.F32, dim, 1, rng, norm: true));
        Matrix("token_embd.weight", dim, vocab, type);
        Norm("blk.0.attn_norm.weight");
        Matrix("blk.0.attn_q.weight", dim, dim, type);
        Matrix("blk.0.attn_k.weight", dim, kvDim, type);
        Matrix("blk.0.attn_v.weight", dim, kvDim, type);
        Matrix("blk.0.attn_output.weight", dim, dim, type);
        Norm("blk.0.ffn_norm.weight");
        Matrix("blk.0.ffn_gate.weight", dim, ffn, type);
        Matrix("blk.0.ffn_up.weight", dim, ffn, type);
        Matrix("blk.0.ffn_down.weight", ffn, dim, type);
        Norm("output_norm.weight");
        if (!tied) Matrix("output.weight", dim, vocab, type);
        w.Complete();
    }

    private static byte[] Build(GgmlType type, int dim, int heads, int kvHeads, int ffn, bool tied, int? window)
    {
        string path = Path.Combine(Path.GetTempPath(), $"eurus-tiny-{Guid.NewGuid():N}.gguf");
        try
        {
            Write(path, type, dim, heads, kvHeads, ffn, tied, window);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] Encode(GgmlType type, int cols, int rows, Random rng, bool norm)
    {
        int rowBytes = (int)GgmlTypeInfo.RowBytes(type, cols);
        var bytes = new byte[rowBytes * rows];
        var row = new float[cols];
        float scale = 1f / MathF.Sqrt(cols);
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++) row[j] = norm ? 1f + 0.1f * (rng.NextSingle() - 0.5f) : scale * (2 * rng.NextSingle() - 1);
            var dst = bytes.AsSpan(r * rowBytes, rowBytes);
            if (type is GgmlType.Q4_1 or GgmlType.Q5_1)
            {
                // RowCodec has no Q4_1/Q5_1 encoder: random quants, with the two fp16 fields (scale d, minimum m) small.
                rng.NextBytes(dst);
                int block = type == GgmlType.Q4_1 ? 20 : 24;
                for (int b = 0; b < dst.Length; b += block)
                {
                    BitConverter.TryWriteBytes(dst[b..], (Half)(scale / 8));
                    BitConverter.TryWriteBytes(dst[(b + 2)..], (Half)(-scale));
                }
            }
            else
            {
                RowCodec.Encode(type, row, dst);
            }
        }
        return bytes;
    }
}
