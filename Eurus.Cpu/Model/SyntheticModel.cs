using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Model;

/// <summary>
/// Writes complete Mistral/llama-architecture GGUF files with seeded random weights, for tests and benchmarks.
/// Matrices are uniform with standard deviation 1/sqrt(fan_in) so activations stay O(1) and logits are not flat.
/// With <see cref="SyntheticModelOptions.Weights"/> = <see cref="SyntheticWeights.Induction"/> the first seven layers,
/// the embeddings, the output and the norms instead hold a constructed induction circuit (see
/// <see cref="InductionWeights"/>) whose greedy continuation copies the passage the prompt ends in.
/// Rows are generated, encoded and written tensor by tensor, so a 7B-shaped file needs little memory.
/// </summary>
public static class SyntheticModel
{
    /// <summary>The Mistral-Instruct v0.1 chat template (the format Eurus-7B-KTO uses).</summary>
    public const string MistralChatTemplate =
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
        "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}" +
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}" +
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

    /// <summary>Writes a synthetic model to <paramref name="path"/>.</summary>
    public static void Write(string path, SyntheticModelOptions o, IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        if (o.Dim <= 0 || o.Layers <= 0 || o.Heads <= 0 || o.KvHeads <= 0 || o.FeedForward <= 0)
            throw new ArgumentException("All dimensions must be positive.", nameof(o));
        if (o.Dim % o.Heads != 0 || o.Heads % o.KvHeads != 0)
            throw new ArgumentException("Dim must be a multiple of Heads, and Heads a multiple of KvHeads.", nameof(o));
        if (o.HeadDim % 2 != 0) throw new ArgumentException("Head dimension must be even for RoPE.", nameof(o));

        string[] tokens; float[] scores; int[] types;
        uint bos = 1, eos = 2, unk = 0;
        bool addBos = true;
        if (o.VocabularyFrom is { } src)
        {
            using var v = GgufFile.Open(src);
            tokens = v.Metadata.GetStringArray("tokenizer.ggml.tokens");
            scores = v.Metadata.GetFloat32Array("tokenizer.ggml.scores");
            types = v.Metadata.GetInt32Array("tokenizer.ggml.token_type");
            bos = v.Metadata.GetUInt32OrDefault("tokenizer.ggml.bos_token_id", 1);
            eos = v.Metadata.GetUInt32OrDefault("tokenizer.ggml.eos_token_id", 2);
            unk = v.Metadata.GetUInt32OrDefault("tokenizer.ggml.unknown_token_id", 0);
            addBos = v.Metadata.GetBoolOrDefault("tokenizer.ggml.add_bos_token", true);
        }
        else
        {
            (tokens, scores, types) = SyntheticVocabulary.Build(o.Vocab);
        }
        int vocab = tokens.Length;
        int kvDim = o.KvHeads * o.HeadDim;
        var induction = o.Weights == SyntheticWeights.Induction ? new InductionWeights(o, vocab, checked((int)bos)) : null;

        var w = new GgufWriter(path);
        w.Add("general.architecture", "llama");
        w.Add("general.name", o.Name);
        if (induction is not null)
            w.Add("general.description", "Constructed, not trained: a hand-built induction circuit (layers 0-6) whose greedy continuation copies " +
                "the passage the prompt ends in; later layers have random matrices and write nothing.");
        w.Add("general.file_type", o.Mix is { } mix ? QuantMixRules.FileType(mix) : FileType(o.WeightType));
        w.Add("llama.context_length", (uint)o.ContextLength);
        w.Add("llama.embedding_length", (uint)o.Dim);
        w.Add("llama.block_count", (uint)o.Layers);
        w.Add("llama.feed_forward_length", (uint)o.FeedForward);
        w.Add("llama.rope.dimension_count", (uint)o.HeadDim);
        w.Add("llama.attention.head_count", (uint)o.Heads);
        w.Add("llama.attention.head_count_kv", (uint)o.KvHeads);
        w.Add("llama.attention.layer_norm_rms_epsilon", o.RmsEps);
        w.Add("llama.rope.freq_base", o.RopeTheta);
        w.Add("llama.vocab_size", (uint)vocab);
        if (o.SlidingWindow is int sw) w.Add("llama.attention.sliding_window", (uint)sw);
        w.Add("tokenizer.ggml.model", "llama");
        w.Add("tokenizer.ggml.tokens", GgufValue.Array(tokens));
        w.Add("tokenizer.ggml.scores", GgufValue.Array(scores));
        w.Add("tokenizer.ggml.token_type", GgufValue.Array(types));
        w.Add("tokenizer.ggml.bos_token_id", bos);
        w.Add("tokenizer.ggml.eos_token_id", eos);
        w.Add("tokenizer.ggml.unknown_token_id", unk);
        w.Add("tokenizer.ggml.add_bos_token", addBos);
        w.Add("tokenizer.ggml.add_eos_token", false);
        w.Add("tokenizer.chat_template", MistralChatTemplate);

        var plan = new List<(string Name, long Cols, long Rows, bool IsNorm)>
        {
            ("token_embd.weight", o.Dim, vocab, false),
        };
        for (int l = 0; l < o.Layers; l++)
        {
            plan.Add(($"blk.{l}.attn_norm.weight", o.Dim, 1, true));
            plan.Add(($"blk.{l}.attn_q.weight", o.Dim, o.Dim, false));
            plan.Add(($"blk.{l}.attn_k.weight", o.Dim, kvDim, false));
            plan.Add(($"blk.{l}.attn_v.weight", o.Dim, kvDim, false));
            plan.Add(($"blk.{l}.attn_output.weight", o.Dim, o.Dim, false));
            plan.Add(($"blk.{l}.ffn_norm.weight", o.Dim, 1, true));
            plan.Add(($"blk.{l}.ffn_gate.weight", o.Dim, o.FeedForward, false));
            plan.Add(($"blk.{l}.ffn_up.weight", o.Dim, o.FeedForward, false));
            plan.Add(($"blk.{l}.ffn_down.weight", o.FeedForward, o.Dim, false));
        }
        plan.Add(("output_norm.weight", o.Dim, 1, true));
        plan.Add(("output.weight", o.Dim, vocab, false));

        long totalRows = plan.Sum(p => p.Rows);
        long doneRows = 0;
        for (int ti = 0; ti < plan.Count; ti++)
        {
            var (name, cols, rows, isNorm) = plan[ti];
            var type = isNorm ? GgmlType.F32 : o.Mix is { } m ? QuantMixRules.TensorType(m, name, o.Layers, cols) : o.WeightType;
            // Embeddings have unit scale; matrices 1/sqrt(fan_in); norms 1 ± 0.1.
            float std = name == "token_embd.weight" ? 1f : 1f / MathF.Sqrt(cols);
            ulong tensorSeed = Mix(o.Seed ^ Mix((ulong)ti + 0x9E3779B97F4A7C15UL));
            long[] dims = isNorm ? [cols] : [cols, rows];
            var fill = induction?.Rows(name);
            w.AddTensor(name, type, dims, sink =>
            {
                WriteRows(sink, type, (int)cols, rows, tensorSeed, isNorm, std, fill);
                doneRows += rows;
                progress?.Report((double)doneRows / totalRows);
            });
        }
        w.Complete();
    }

    /// <summary>Writes <paramref name="rows"/> rows: from <paramref name="fill"/> (row index, row) when set, else seeded uniform random.</summary>
    private static void WriteRows(GgufTensorSink sink, GgmlType type, int cols, long rows, ulong seed, bool isNorm, float std, Action<long, float[]>? fill)
    {
        int rowBytes = (int)GgmlTypeInfo.RowBytes(type, cols);
        const int Chunk = 256;
        var buffer = new byte[Chunk * rowBytes];
        float amplitude = std * MathF.Sqrt(3f); // uniform on [-a, a] has std a / sqrt(3)
        for (long r0 = 0; r0 < rows; r0 += Chunk)
        {
            int n = (int)Math.Min(Chunk, rows - r0);
            Parallel.For(0, n, () => new float[cols], (i, _, row) =>
            {
                if (fill is not null)
                {
                    fill(r0 + i, row);
                }
                else
                {
                    ulong s = Mix(seed + (ulong)(r0 + i) * 0xD1B54A32D192ED03UL);
                    for (int j = 0; j < cols; j++)
                    {
                        s = Mix(s);
                        float u = (s >> 40) * (1f / (1 << 24)) * 2f - 1f; // [-1, 1)
                        row[j] = isNorm ? 1f + 0.1f * u : amplitude * u;
                    }
                }
                RowCodec.Encode(type, row, buffer.AsSpan(i * rowBytes, rowBytes));
                return row;
            }, _ => { });
            sink.Write(buffer.AsSpan(0, n * rowBytes));
        }
    }

    /// <summary>SplitMix64 finaliser.</summary>
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>llama.cpp's <c>general.file_type</c> code for a model whose matrices are all <paramref name="type"/>.</summary>
    public static uint FileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0,
        GgmlType.F16 => 1,
        GgmlType.Q4_0 => 2,
        GgmlType.Q8_0 => 7,
        GgmlType.Q5_0 => 8,
        GgmlType.Q4_K => 14, // "Q4_K_S", the mostly-Q4_K file type
        GgmlType.Q5_K => 16, // "Q5_K_S"
        GgmlType.Q6_K => 18,
        GgmlType.BF16 => 32,
        _ => throw new NotSupportedException($"No file type for {type}."),
    };
}
