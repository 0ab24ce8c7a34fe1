using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using KvCacheType = Eurus.Cpu.Model.KvCacheType;

namespace Eurus.Cpu.Tests.Oracle;

/// <summary>
/// llama.cpp (through LLamaSharp, CPU backend) as the reference for tokenization and forward passes. The native
/// library is configured once (CPU/AVX2 only, logging silenced); one model is loaded and kept per path. All calls are
/// serialised by one lock, so tests running in parallel can share it. Contexts use llama.cpp's default KV cache type,
/// F16 (llama-cli, llama-server and LLamaSharp's <c>ModelParams</c> all default to it), unless a call asks for F32.
/// </summary>
internal static class LlamaOracle
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, LLamaWeights> Models = new(StringComparer.Ordinal);
    private static bool _configured;

    /// <summary>llama.cpp's ids for <paramref name="text"/>: BOS added, special tokens not parsed.</summary>
    public static int[] Tokenize(string modelPath, string text)
    {
        lock (Gate)
        {
            var model = Load(modelPath);
            return model.NativeHandle.Tokenize(text, true, false, Encoding.UTF8).Select(t => (int)t).ToArray();
        }
    }

    /// <summary>llama.cpp's ids for <paramref name="text"/> with special-token parsing on ("&lt;s&gt;" is BOS) and no BOS added.</summary>
    public static int[] TokenizeSpecial(string modelPath, string text)
    {
        lock (Gate)
        {
            var model = Load(modelPath);
            return model.NativeHandle.Tokenize(text, false, true, Encoding.UTF8).Select(t => (int)t).ToArray();
        }
    }

    /// <summary>
    /// The concatenated <c>llama_token_to_piece</c> bytes (no leading-space stripping, special tokens not rendered)
    /// of <paramref name="tokens"/>, read as UTF-8.
    /// </summary>
    public static string Detokenize(string modelPath, int[] tokens)
    {
        lock (Gate)
        {
            var model = Load(modelPath);
            var bytes = new List<byte>();
            var buffer = new byte[256];
            foreach (int t in tokens) bytes.AddRange(Piece(model, t, ref buffer));
            return Encoding.UTF8.GetString(bytes.ToArray());
        }
    }

    /// <summary>The <c>llama_token_to_piece</c> bytes of one token (no stripping, special tokens not rendered).</summary>
    public static byte[] PieceBytes(string modelPath, int token)
    {
        lock (Gate)
        {
            var buffer = new byte[256];
            return Piece(Load(modelPath), token, ref buffer);
        }
    }

    /// <summary>
    /// Logits of every position of <paramref name="tokens"/>, evaluated as one batch from an empty cache
    /// (at most <paramref name="contextSize"/> tokens). Row i is the next-token distribution after tokens[..(i+1)].
    /// </summary>
    public static float[][] Logits(string modelPath, int[] tokens, int contextSize = 512, KvCacheType kv = KvCacheType.F16)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Length == 0 || tokens.Length > contextSize)
            throw new ArgumentException($"Need 1..{contextSize} tokens, got {tokens.Length}.", nameof(tokens));
        lock (Gate)
        {
            var model = Load(modelPath);
            using var ctx = model.CreateContext(Parameters(modelPath, contextSize, kv));
            var batch = new LLamaBatch();
            for (int i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, (LLamaSeqId)0, true);
            Decode(ctx, batch);
            var rows = new float[tokens.Length][];
            for (int i = 0; i < tokens.Length; i++) rows[i] = ctx.NativeHandle.GetLogitsIth(i).ToArray();
            return rows;
        }
    }

    /// <summary>
    /// Greedy continuation: evaluates <paramref name="prompt"/>, then feeds back the arg-max token
    /// <paramref name="count"/> times; returns the generated tokens.
    /// </summary>
    public static int[] Greedy(string modelPath, int[] prompt, int count, int contextSize = 512, KvCacheType kv = KvCacheType.F16) =>
        GreedyWithLogits(modelPath, prompt, count, contextSize, kv).Tokens;

    /// <summary>
    /// <see cref="Greedy"/>, with the logits llama.cpp chose each generated token from (row n: the distribution token n
    /// was the arg-max of).
    /// </summary>
    public static (int[] Tokens, float[][] Logits) GreedyWithLogits(string modelPath, int[] prompt, int count, int contextSize = 512, KvCacheType kv = KvCacheType.F16)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (prompt.Length == 0 || prompt.Length + count > contextSize)
            throw new ArgumentException($"Prompt plus generated tokens must fit in {contextSize} (prompt {prompt.Length}, count {count}).");
        lock (Gate)
        {
            var model = Load(modelPath);
            using var ctx = model.CreateContext(Parameters(modelPath, contextSize, kv));
            var batch = new LLamaBatch();
            for (int i = 0; i < prompt.Length; i++) batch.Add(prompt[i], i, (LLamaSeqId)0, i == prompt.Length - 1);
            Decode(ctx, batch);
            int last = prompt.Length - 1;
            var output = new int[count];
            var rows = new float[count][];
            for (int n = 0; n < count; n++)
            {
                rows[n] = ctx.NativeHandle.GetLogitsIth(last).ToArray();
                int next = ArgMax(rows[n]);
                output[n] = next;
                if (n == count - 1) break;
                batch.Clear();
                last = batch.Add(next, prompt.Length + n, (LLamaSeqId)0, true);
                Decode(ctx, batch);
            }
            return (output, rows);
        }
    }

    /// <summary>Unloads the model of <paramref name="modelPath"/> if loaded (for temporary files).</summary>
    public static void Release(string modelPath)
    {
        lock (Gate)
        {
            if (Models.Remove(Path.GetFullPath(modelPath), out var model)) model.Dispose();
        }
    }

    private static void Decode(LLamaContext ctx, LLamaBatch batch)
    {
        var result = ctx.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {result}.");
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    private static byte[] Piece(LLamaWeights model, int token, ref byte[] buffer)
    {
        int n = (int)model.NativeHandle.TokenToSpan(token, buffer, 0, false);
        if (n > buffer.Length)
        {
            buffer = new byte[n];
            n = (int)model.NativeHandle.TokenToSpan(token, buffer, 0, false);
        }
        return buffer[..n];
    }

    private static ModelParams Parameters(string path, int contextSize, KvCacheType kv = KvCacheType.F16) => new(path)
    {
        GpuLayerCount = 0,
        LoadMode = LLamaLoadMode.None,
        ContextSize = (uint)contextSize,
        BatchSize = (uint)contextSize,
        UBatchSize = (uint)contextSize,
        SeqMax = 1,
        Threads = 2,
        BatchThreads = 2,
        FlashAttention = false,
        TypeK = kv == KvCacheType.F32 ? GGMLType.GGML_TYPE_F32 : GGMLType.GGML_TYPE_F16,
        TypeV = kv == KvCacheType.F32 ? GGMLType.GGML_TYPE_F32 : GGMLType.GGML_TYPE_F16,
    };

    /// <summary>
    /// Quantizes <paramref name="source"/> into <paramref name="destination"/> with llama.cpp's own quantizer
    /// (<c>llama_model_quantize</c>, default mixture rules, no importance matrix, output tensor quantized).
    /// </summary>
    public static void Quantize(string source, string destination, LLamaFtype ftype)
    {
        lock (Gate)
        {
            Configure();
            if (!LLamaQuantizer.Quantize(source, destination, ftype, nthread: 2, allowRequantize: false, quantizeOutputTensor: true))
                throw new InvalidOperationException($"llama.cpp failed to quantize {source} to {ftype}.");
        }
    }

    private static LLamaWeights Load(string path)
    {
        Configure();
        string full = Path.GetFullPath(path);
        if (!Models.TryGetValue(full, out var model))
        {
            model = LLamaWeights.LoadFromFile(Parameters(full, 512));
            Models[full] = model;
        }
        return model;
    }

    private static void Configure()
    {
        if (!_configured)
        {
            NativeLibraryConfig.All.WithCuda(false).WithVulkan(false).WithAvx(AvxLevel.Avx2).WithAutoFallback(false).WithLogCallback((level, msg) => { });
            NativeApi.llama_empty_call();
            NativeLogConfig.llama_log_set((level, msg) => { });
            _configured = true;
        }
    }
}
