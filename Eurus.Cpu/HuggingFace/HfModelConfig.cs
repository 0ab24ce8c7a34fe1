using System.Text.Json;
using Eurus.Cpu.Model;

namespace Eurus.Cpu.HuggingFace;

/// <summary>
/// A model folder's <c>config.json</c> (<c>MistralForCausalLM</c> or <c>LlamaForCausalLM</c>) read into the engine's
/// <see cref="MistralConfig"/>, with the few facts the converter needs besides it.
/// </summary>
public sealed record HfModelConfig
{
    /// <summary>File name of the configuration.</summary>
    public const string FileName = "config.json";

    /// <summary>The hyperparameters, <c>sliding_window</c> included.</summary>
    public required MistralConfig Config { get; init; }

    /// <summary>Whether the output projection shares the embedding table (<c>tie_word_embeddings</c>).</summary>
    public required bool TiedEmbeddings { get; init; }

    /// <summary><c>bos_token_id</c>, when given.</summary>
    public int? BosTokenId { get; init; }

    /// <summary><c>eos_token_id</c>, when given (the first, when a list).</summary>
    public int? EosTokenId { get; init; }

    /// <summary><c>_name_or_path</c>, when given.</summary>
    public string? Name { get; init; }

    // The same sanity bounds as the GGUF path.
    private const int MaxDim = 1 << 16, MaxLayers = 1024, MaxHeads = 1024, MaxFfn = 1 << 20, MaxVocab = 1 << 22, MaxContext = 1 << 24;

    /// <summary>Reads <c>config.json</c> in <paramref name="folder"/>; throws <see cref="HuggingFaceFormatException"/> naming the field.</summary>
    public static HfModelConfig Read(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{folder} has no {FileName}; not a Hugging Face model folder.", path);
        using var doc = HfJson.ReadObject(path);
        var o = doc.RootElement;
        HuggingFaceFormatException Fail(string problem) => new(path, problem);

        string? modelType = HfJson.String(path, o, "model_type");
        var archs = o.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array
            ? a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToArray()
            : [];
        bool known = archs.Any(x => x is "MistralForCausalLM" or "LlamaForCausalLM")
                     || (archs.Length == 0 && modelType is "mistral" or "llama");
        if (!known)
            throw Fail($"architecture {(archs.Length > 0 ? string.Join(", ", archs) : modelType ?? "(none)")} is not supported (Eurus.Cpu runs MistralForCausalLM and LlamaForCausalLM).");

        int Req(string name, int max, int? fallback = null)
        {
            long? v = HfJson.Int(path, o, name) ?? fallback;
            if (v is null) throw Fail($"'{name}' is missing.");
            if (v <= 0 || v > max) throw Fail($"'{name}' = {v} is out of range (1 to {max}).");
            return (int)v;
        }
        int dim = Req("hidden_size", MaxDim);
        int heads = Req("num_attention_heads", MaxHeads);
        int kvHeads = Req("num_key_value_heads", MaxHeads, heads);
        if (dim % heads != 0) throw Fail($"hidden_size {dim} is not a multiple of num_attention_heads {heads}.");
        if (heads % kvHeads != 0) throw Fail($"num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}.");
        int headDim = dim / heads;
        if (HfJson.Int(path, o, "head_dim") is long hd && hd != headDim)
            throw Fail($"head_dim {hd} differs from hidden_size / num_attention_heads = {headDim}; such models are not supported.");
        if (headDim % 2 != 0) throw Fail($"the head dimension {headDim} is odd; RoPE needs it even.");
        if (HfJson.String(path, o, "hidden_act") is { } act && act != "silu")
            throw Fail($"hidden_act '{act}' is not supported (only silu).");
        if (o.TryGetProperty("rope_scaling", out var rs) && rs.ValueKind != JsonValueKind.Null)
            throw Fail("rope_scaling is not supported.");
        if (HfJson.Bool(path, o, "attention_bias") == true || HfJson.Bool(path, o, "mlp_bias") == true)
            throw Fail("attention or MLP biases are not supported.");
        double eps = HfJson.Number(path, o, "rms_norm_eps") ?? 1e-6;
        if (!(eps > 0 && eps < 1)) throw Fail($"rms_norm_eps {eps} is out of range.");
        double theta = HfJson.Number(path, o, "rope_theta") ?? 10000;
        if (!(theta > 1 && double.IsFinite(theta) && theta < float.MaxValue)) throw Fail($"rope_theta {theta} is out of range.");
        long? window = HfJson.Int(path, o, "sliding_window");
        if (window is <= 0 or > MaxContext) throw Fail($"'sliding_window' = {window} is out of range (1 to {MaxContext}).");

        int? eos = null;
        if (o.TryGetProperty("eos_token_id", out var e) && e.ValueKind == JsonValueKind.Array)
        {
            foreach (var x in e.EnumerateArray())
            {
                if (x.ValueKind != JsonValueKind.Number || !x.TryGetInt32(out int id)) throw Fail($"'eos_token_id' entry {x.GetRawText()} is not an integer.");
                eos ??= id;
            }
        }
        else if (HfJson.Int(path, o, "eos_token_id") is long eosId) eos = checked((int)eosId);
        long? bos = HfJson.Int(path, o, "bos_token_id");

        var config = new MistralConfig
        {
            Dim = dim,
            Layers = Req("num_hidden_layers", MaxLayers),
            Heads = heads,
            KvHeads = kvHeads,
            FeedForward = Req("intermediate_size", MaxFfn),
            Vocab = Req("vocab_size", MaxVocab),
            RmsEps = (float)eps,
            RopeTheta = (float)theta,
            RopeDim = headDim,
            ContextLength = Req("max_position_embeddings", MaxContext),
            SlidingWindow = window is long w ? (int)w : null,
        };
        return new HfModelConfig
        {
            Config = config,
            TiedEmbeddings = HfJson.Bool(path, o, "tie_word_embeddings") ?? false,
            BosTokenId = bos is long b ? checked((int)b) : null,
            EosTokenId = eos,
            Name = HfJson.String(path, o, "_name_or_path"),
        };
    }
}
