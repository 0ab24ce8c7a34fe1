using Eurus.Cpu.Gguf;
using Eurus.Cpu.HuggingFace;
using Eurus.Cpu.Model;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Generation;

/// <summary>
/// A loaded model: the memory-mapped GGUF file, its validated configuration and its tokenizer. Thread-safe to share;
/// create one <see cref="InferenceSession"/> per conversation. Dispose it after every session is done.
/// </summary>
/// <example>
/// <code>
/// using var model = EurusModel.Load("eurus-7b-kto.Q4_0.gguf");
/// using var session = model.CreateSession();
/// await foreach (var piece in session.GenerateAsync("[INST] What is 2+2? [/INST]", SamplingSettings.Greedy))
///     Console.Write(piece);
/// </code>
/// </example>
public sealed class EurusModel : IDisposable
{
    private readonly GgufFile _file;

    private EurusModel(GgufFile file, MistralConfig config, Tokenizer tokenizer, ModelOptions options)
    {
        _file = file;
        Config = config;
        Tokenizer = tokenizer;
        Options = options;
        ContextLength = EffectiveContext(config, options);
        SlidingWindow = options.SlidingWindow ?? config.SlidingWindow;
        // Sizes first, so an absurd file fails before its weights are repacked.
        var sizes = CheckSizes(config, options, msg => new GgufFormatException(file.FilePath, -1, msg));
        SessionMemoryBytes = sizes.TotalBytes;
        Weights = MistralWeights.FromGguf(file, config, options.Threads, options.Kernels);
        ChatTemplate = file.Metadata.GetStringOrDefault("tokenizer.chat_template");
    }

    private static int EffectiveContext(MistralConfig config, ModelOptions options) =>
        options.ContextLength == 0 ? config.ContextLength : Math.Min(options.ContextLength, config.ContextLength);

    /// <summary>
    /// Sizes every buffer a session of this model will allocate (in <see langword="long"/>) and checks them once: each
    /// must fit in an array, and one session within the memory this process may use. A buffer too large for the model
    /// alone (its keys at its own context) is a format error made by <paramref name="formatError"/>; one made too large
    /// by the options is an <see cref="ArgumentOutOfRangeException"/>; too little memory an <see cref="InsufficientMemoryException"/>.
    /// </summary>
    internal static RunSizes CheckSizes(MistralConfig config, ModelOptions options, Func<string, Exception> formatError)
    {
        int context = EffectiveContext(config, options);
        int batch = Math.Min(options.BatchSize, context);
        int? window = options.SlidingWindow ?? config.SlidingWindow;
        var sizes = RunSizes.For(config, context, batch, window, options.KvCacheType);
        if (sizes.FirstTooLarge() is var (problem, fromOptions))
        {
            string hint = $"a session of {context} positions: {problem}. Load it with a smaller ModelOptions.ContextLength{(fromOptions ? " or BatchSize" : "")}.";
            // The model's own numbers at its own context (and the default batch) already overflow: the file is absurd.
            bool modelAlone = options.ContextLength == 0 && RunSizes.For(config, config.ContextLength, Math.Min(ModelOptions.DefaultBatchSize, config.ContextLength),
                config.SlidingWindow, options.KvCacheType).FirstTooLarge() is not null;
            throw modelAlone ? formatError("the metadata asks for " + hint) : new ArgumentOutOfRangeException(nameof(options), "These options ask for " + hint);
        }
        sizes.CheckMemory(RunSizes.AvailableBytes, $"A session of {context} positions");
        return sizes;
    }

    /// <summary>
    /// Opens <paramref name="path"/>, validates it and builds the tokenizer. <paramref name="path"/> is a GGUF file, or a
    /// Hugging Face model folder (config.json, tokenizer.model, safetensors weights), which is first converted to
    /// <see cref="ModelOptions.WeightType"/> in a temporary GGUF file that is then mapped like any other (see
    /// <see cref="HfConverter"/>). Throws <see cref="GgufFormatException"/>, <see cref="HuggingFaceFormatException"/> or
    /// <see cref="Safetensors.SafetensorsFormatException"/> for malformed or unsupported input.
    /// </summary>
    public static EurusModel Load(string path, ModelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new ModelOptions();
        options.Validate();
        if (Directory.Exists(path)) return LoadFolder(path, options);
        return LoadGguf(path, options);
    }

    /// <summary>
    /// Converting into a temporary GGUF and mapping it (rather than quantizing into memory) keeps one validated load
    /// path, streams the conversion with little memory, and lets the page cache hold the weights that are used through
    /// the map (embeddings, norms, F16/F32 matrices). On Unix the file is unlinked as soon as it is mapped, so it
    /// disappears with the process; elsewhere it is deleted when the model is disposed.
    /// </summary>
    private static EurusModel LoadFolder(string folder, ModelOptions options)
    {
        // The same size checks as a GGUF load, before minutes of conversion.
        var hf = HfModelConfig.Read(folder);
        CheckSizes(hf.Config, options, msg => new HuggingFaceFormatException(Path.Combine(folder, HfModelConfig.FileName), msg));
        string temp = Path.Combine(Path.GetTempPath(), $"eurus-hf-{Guid.NewGuid():N}.gguf");
        HfConverter.Convert(folder, temp, new HfConversionOptions
        {
            WeightType = options.WeightType,
            Mix = options.Mix,
            Threads = options.Threads,
            Progress = options.LoadProgress,
        });
        EurusModel model;
        try
        {
            model = LoadGguf(temp, options);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        model.SourcePath = Path.GetFullPath(folder);
        if (!TryDelete(temp)) model._deleteOnDispose = temp;
        return model;
    }

    private static bool TryDelete(string path)
    {
        try { File.Delete(path); return true; }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    private string? _deleteOnDispose;

    private static EurusModel LoadGguf(string path, ModelOptions options)
    {
        var file = GgufFile.Open(path);
        try
        {
            var config = MistralConfig.FromGguf(file);
            var tokenizer = Tokenizer.FromGguf(file);
            if (tokenizer.VocabSize != config.Vocab)
                throw new GgufFormatException(path, -1, $"the tokenizer has {tokenizer.VocabSize} tokens but the embedding has {config.Vocab} rows.");
            return new EurusModel(file, config, tokenizer, options) { SourcePath = Path.GetFullPath(path) };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Hyperparameters.</summary>
    public MistralConfig Config { get; }

    /// <summary>The tokenizer built from the file's vocabulary.</summary>
    public Tokenizer Tokenizer { get; }

    /// <summary>The options the model was loaded with.</summary>
    public ModelOptions Options { get; }

    /// <summary>Positions per session.</summary>
    public int ContextLength { get; }

    /// <summary>
    /// Bytes one <see cref="InferenceSession"/> holds: its KV cache for <see cref="ContextLength"/> positions and the
    /// forward pass's scratch (an estimate within a few percent). Checked at load against the memory this process may use.
    /// </summary>
    public long SessionMemoryBytes { get; }

    /// <summary>Sliding attention window in effect, or null for full causal attention.</summary>
    public int? SlidingWindow { get; }

    /// <summary>The file's chat template (Jinja text), if any.</summary>
    public string? ChatTemplate { get; }

    /// <summary>Path of the model file (for a Hugging Face folder, the temporary GGUF it was converted to).</summary>
    public string FilePath => _file.FilePath;

    /// <summary>What <see cref="Load"/> was given: the GGUF file, or the Hugging Face model folder.</summary>
    public string SourcePath { get; private set; } = "";

    internal MistralWeights Weights { get; }

    /// <summary>Most prompt tokens one forward call of a session takes.</summary>
    internal int PromptBatch => Math.Min(Options.BatchSize, ContextLength);

    /// <summary>The sliding window the attention applies (null when none, or when it spans the whole context).</summary>
    internal int? AttentionWindow => SlidingWindow is int w && w < ContextLength ? w : null;

    /// <summary>Positions of one sequence's KV cache (<see cref="KvCache.CapacityFor"/>).</summary>
    internal int KvCapacity => KvCache.CapacityFor(ContextLength, PromptBatch, AttentionWindow);

    internal bool IsDisposed { get; private set; }

    /// <summary>Starts a new conversation with its own KV cache.</summary>
    public InferenceSession CreateSession() => new(this);

    /// <summary>Unmaps the file. Sessions must not be used afterwards.</summary>
    public void Dispose()
    {
        IsDisposed = true;
        Weights.Dispose();
        _file.Dispose();
        if (_deleteOnDispose is { } temp && TryDelete(temp)) _deleteOnDispose = null;
    }
}
