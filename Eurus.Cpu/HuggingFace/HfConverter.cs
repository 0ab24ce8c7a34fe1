using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;
using Eurus.Cpu.Quantization;
using Eurus.Cpu.Safetensors;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.HuggingFace;

/// <summary>
/// Converts a Hugging Face model folder (config.json, tokenizer.model, safetensors weights) into a GGUF file that
/// llama.cpp and Eurus.Cpu load: <c>general.architecture = llama</c>, all <c>llama.*</c> hyperparameters, the
/// vocabulary with its special ids and chat template, and the weights under GGUF names in the requested type.
/// Tensors stream one at a time from the memory-mapped checkpoint through <see cref="GgufWriter"/> (which writes a
/// temporary file and renames it when complete), rows encoded on all cores, so memory stays far below the
/// checkpoint's size.
/// </summary>
public static class HfConverter
{
    /// <summary>Whether <paramref name="path"/> is a folder that looks like a Hugging Face model (config.json present).</summary>
    public static bool IsModelFolder(string path) => Directory.Exists(path) && File.Exists(Path.Combine(path, HfModelConfig.FileName));

    /// <summary>
    /// Converts <paramref name="folder"/> into <paramref name="outputPath"/>. Throws <see cref="HuggingFaceFormatException"/>
    /// or <see cref="SafetensorsFormatException"/> (naming file and tensor) for malformed or unsupported input;
    /// on any failure or cancellation no output file is left behind.
    /// </summary>
    public static void Convert(string folder, string outputPath, HfConversionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(outputPath);
        options ??= new HfConversionOptions();
        options.Validate();
        var hf = HfModelConfig.Read(folder);
        var c = hf.Config;
        var vocab = HfVocabulary.Read(folder, c.Vocab, hf.BosTokenId, hf.EosTokenId);
        using var ckpt = SafetensorsCheckpoint.Open(folder);
        var plan = Plan(folder, hf, ckpt, options.WeightType, options.Mix);

        var w = new GgufWriter(outputPath);
        w.Add("general.architecture", "llama");
        w.Add("general.name", hf.Name is { Length: > 0 } name ? name : Path.GetFileName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar)));
        w.Add("general.file_type", options.Mix is { } mix ? QuantMixRules.FileType(mix) : SyntheticModel.FileType(options.WeightType));
        if (plan.Any(p => GgmlTypeInfo.BlockElements(p.Type) > 1)) w.Add("general.quantization_version", 2u);
        w.Add("llama.context_length", (uint)c.ContextLength);
        w.Add("llama.embedding_length", (uint)c.Dim);
        w.Add("llama.block_count", (uint)c.Layers);
        w.Add("llama.feed_forward_length", (uint)c.FeedForward);
        w.Add("llama.rope.dimension_count", (uint)c.RopeDim);
        w.Add("llama.attention.head_count", (uint)c.Heads);
        w.Add("llama.attention.head_count_kv", (uint)c.KvHeads);
        w.Add("llama.attention.layer_norm_rms_epsilon", c.RmsEps);
        w.Add("llama.rope.freq_base", c.RopeTheta);
        w.Add("llama.vocab_size", (uint)c.Vocab);
        // llama.cpp ignores this key for the llama architecture; Eurus.Cpu honours it, so the converted file runs
        // with the window the model was trained with, as the HF folder does when loaded directly.
        if (c.SlidingWindow is int window) w.Add("llama.attention.sliding_window", (uint)window);
        w.Add(Tokenizer.ModelKey, "llama");
        w.Add("tokenizer.ggml.pre", "default");
        w.Add(Tokenizer.TokensKey, GgufValue.Array(vocab.Tokens));
        w.Add(Tokenizer.ScoresKey, GgufValue.Array(vocab.Scores));
        w.Add(Tokenizer.TokenTypeKey, GgufValue.Array(vocab.TokenTypes));
        w.Add(Tokenizer.BosKey, (uint)vocab.BosId);
        w.Add(Tokenizer.EosKey, (uint)vocab.EosId);
        w.Add(Tokenizer.UnknownKey, (uint)vocab.UnknownId);
        if (vocab.PaddingId is int pad) w.Add("tokenizer.ggml.padding_token_id", (uint)pad);
        w.Add(Tokenizer.AddBosKey, vocab.AddBos);
        w.Add(Tokenizer.AddEosKey, vocab.AddEos);
        if (!vocab.AddSpacePrefix) w.Add(Tokenizer.AddSpacePrefixKey, false);
        w.Add("tokenizer.chat_template", vocab.ChatTemplate);

        long totalBytes = plan.Sum(p => p.Source.ByteSize);
        long doneBytes = 0;
        foreach (var p in plan)
        {
            var item = p;
            w.AddTensor(item.GgufName, item.Type, item.Dims, sink =>
            {
                WriteTensor(sink, item, options.Threads, cancellationToken);
                doneBytes += item.Source.ByteSize;
                options.Progress?.Report((double)doneBytes / totalBytes);
            });
        }
        w.Complete();
    }

    /// <summary>One output tensor: its GGUF name, type and dims (ggml order), the source tensor, and the RoPE head count to permute rows by (0: none).</summary>
    internal sealed record TensorPlan(string GgufName, GgmlType Type, long[] Dims, SafetensorsTensorInfo Source, int PermuteHeads);

    internal static List<TensorPlan> Plan(string folder, HfModelConfig hf, SafetensorsCheckpoint ckpt, GgmlType weightType, QuantMix? mix = null)
    {
        var c = hf.Config;
        var plan = new List<TensorPlan>();
        bool hasOutput = !hf.TiedEmbeddings || ckpt.TryGetTensor("lm_head.weight", out _);
        string where = ckpt.Files.Count == 1 ? ckpt.Files[0].FilePath : Path.Combine(folder, SafetensorsCheckpoint.IndexFileName);

        SafetensorsTensorInfo Find(string[] names, long[] shape)
        {
            foreach (var n in names)
            {
                if (!ckpt.TryGetTensor(n, out var t)) continue;
                if (!t.Shape.SequenceEqual(shape))
                    throw new SafetensorsFormatException(t.File.FilePath, n,
                        $"shape [{string.Join(", ", t.Shape)}] does not match [{string.Join(", ", shape)}] from config.json.");
                return t;
            }
            throw new SafetensorsFormatException(where, names[0], "the tensor is missing from the checkpoint.");
        }
        void Matrix(string gguf, string[] names, long rows, long cols, int permuteHeads = 0)
        {
            var t = Find(names, [rows, cols]);
            plan.Add(new TensorPlan(gguf, MatrixType(weightType, mix, gguf, c.Layers, cols, hasOutput), [cols, rows], t, permuteHeads));
        }
        void Norm(string gguf, string[] names, long n) => plan.Add(new TensorPlan(gguf, GgmlType.F32, [n], Find(names, [n]), 0));

        Matrix("token_embd.weight", ["model.embed_tokens.weight"], c.Vocab, c.Dim);
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"model.layers.{l}.";
            // Standard checkpoints name attention and MLP weights with a 'self_attn.' / 'mlp.' infix; some
            // exporters leave it out, so both spellings are accepted.
            string[] A(string n) => [$"{p}self_attn.{n}.weight", $"{p}{n}.weight"];
            string[] M(string n) => [$"{p}mlp.{n}.weight", $"{p}{n}.weight"];
            Norm($"blk.{l}.attn_norm.weight", [$"{p}input_layernorm.weight"], c.Dim);
            Matrix($"blk.{l}.attn_q.weight", A("q_proj"), c.Dim, c.Dim, c.Heads);
            Matrix($"blk.{l}.attn_k.weight", A("k_proj"), c.KvDim, c.Dim, c.KvHeads);
            Matrix($"blk.{l}.attn_v.weight", A("v_proj"), c.KvDim, c.Dim);
            Matrix($"blk.{l}.attn_output.weight", A("o_proj"), c.Dim, c.Dim);
            Norm($"blk.{l}.ffn_norm.weight", [$"{p}post_attention_layernorm.weight"], c.Dim);
            Matrix($"blk.{l}.ffn_gate.weight", M("gate_proj"), c.FeedForward, c.Dim);
            Matrix($"blk.{l}.ffn_up.weight", M("up_proj"), c.FeedForward, c.Dim);
            Matrix($"blk.{l}.ffn_down.weight", M("down_proj"), c.Dim, c.FeedForward);
        }
        Norm("output_norm.weight", ["model.norm.weight"], c.Dim);
        if (hasOutput) Matrix("output.weight", ["lm_head.weight"], c.Vocab, c.Dim);
        return plan;
    }

    /// <summary>
    /// The type matrix <paramref name="name"/> is written in: the mixture's choice, or <paramref name="weightType"/> with
    /// llama.cpp's fallbacks for rows that do not fit the blocks (K-quants need multiples of 256 → Q8_0; 32-element
    /// blocks need multiples of 32 → F16).
    /// </summary>
    internal static GgmlType MatrixType(GgmlType weightType, QuantMix? mix, string name, int layers, long cols, bool hasOutput)
    {
        var type = weightType;
        if (mix is { } m)
        {
            try { type = QuantMixRules.TensorType(m, name, layers, cols, hasOutput); }
            catch (NotSupportedException) { type = GgmlType.Q8_0; }
        }
        else if (type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K && cols % 256 != 0) type = GgmlType.Q8_0;
        return GgmlTypeInfo.BlockElements(type) > 1 && cols % GgmlTypeInfo.BlockElements(type) != 0 ? GgmlType.F16 : type;
    }

    /// <summary>
    /// The source row of output row <paramref name="row"/> when a Q/K projection is permuted from Hugging Face's
    /// rotate-half RoPE layout (each head's first half pairs with its second half) to GGUF's adjacent-pair layout
    /// (rows 2i and 2i+1 pair up), as llama.cpp's converter does: within each head, output row 2i + j comes from
    /// input row j·(headDim/2) + i.
    /// </summary>
    internal static long SourceRow(long row, long rows, int heads)
    {
        if (heads == 0) return row;
        long headDim = rows / heads;
        long half = headDim / 2;
        long h = row / headDim, k = row % headDim;
        return h * headDim + (k & 1) * half + (k >> 1);
    }

    private static void WriteTensor(GgufTensorSink sink, TensorPlan p, int threads, CancellationToken ct)
    {
        var src = p.Source;
        var file = src.File;
        int cols = (int)p.Dims[0];
        long rows = p.Dims.Length > 1 ? p.Dims[1] : 1;
        int rowBytes = (int)GgmlTypeInfo.RowBytes(p.Type, cols);
        int srcRowBytes = cols * SafetensorsDTypeInfo.Size(src.DType);
        // Source rows are read with positional reads, not through the map (see ReadRowsFromDisk). A permuted Q/K
        // projection is read whole (its output rows come from all over each head); other tensors a chunk at a time.
        // Chunks of about 4 MiB keep memory small while giving every thread enough rows.
        int chunkRows = p.PermuteHeads > 0 ? (int)rows : (int)Math.Clamp((4L << 20) / Math.Max(Math.Max(rowBytes, srcRowBytes), 1), 1, rows);
        var input = new byte[(long)chunkRows * srcRowBytes];
        var output = new byte[(long)chunkRows * rowBytes];
        var po = new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = ct };
        for (long start = 0; start < rows; start += chunkRows)
        {
            ct.ThrowIfCancellationRequested();
            int count = (int)Math.Min(chunkRows, rows - start);
            file.ReadRowsFromDisk(src, start, count, input.AsSpan(0, count * srcRowBytes));
            int parts = Math.Min(threads, count);
            long first = start;
            Parallel.For(0, parts, po, part =>
            {
                var values = new float[cols];
                int from = (int)((long)count * part / parts), to = (int)((long)count * (part + 1) / parts);
                for (int i = from; i < to; i++)
                {
                    // With a permutation the chunk is the whole tensor (first = 0), so the source row indexes it directly.
                    long s = SourceRow(first + i, rows, p.PermuteHeads) - first;
                    SafetensorsFile.DecodeRow(src.DType, input.AsSpan((int)(s * srcRowBytes), srcRowBytes), values);
                    RowCodec.Encode(p.Type, values, output.AsSpan(i * rowBytes, rowBytes));
                }
            });
            sink.Write(output.AsSpan(0, count * rowBytes));
        }
    }
}
