using Eurus.Cpu.Gguf;
using Eurus.Cpu.HuggingFace;
using Eurus.Cpu.Model;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Generation;

/// <summary>
/// A loaded model: the memory-mapped GGUF file, its validated configuration, its tokenizer and its worker threads.
/// Thread-safe to share; create one <see cref="InferenceSession"/> per conversation. Dispose it after every session is done.
/// </summary>
/// <remarks>
/// Defaults: a session holds <see cref="ModelOptions.DefaultContextLength"/> (4096) positions, or the model's trained
/// length if smaller (<see cref="ContextLength"/>; its memory is <see cref="SessionMemoryBytes"/>). The model owns one
/// pool of <see cref="ModelOptions.Threads"/> worker threads, shared by all its sessions, chat clients and batched
/// generators: their forward passes take turns on it (one pass at a time per model; concurrent sessions interleave
/// token by token). Generation computes on that pool and the thread pool, never on the caller's synchronization context.
/// </remarks>
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

    private EurusModel(GgufFile file, MistralConfig config, Tokenizer tokenizer, ModelOptions options, LoadReporter reporter)
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
        KvCacheBytes = sizes.KvBytesPerSequence;
        Weights = MistralWeights.FromGguf(file, config, options.Threads, options.Kernels, reporter);
        ChatTemplate = file.Metadata.GetStringOrDefault("tokenizer.chat_template");
        Compute = new ModelCompute(options.Threads);
    }

    /// <summary>The context in effect: the options', or <see cref="ModelOptions.DefaultContextLength"/>; never past the model's.</summary>
    internal static int EffectiveContext(MistralConfig config, ModelOptions options) =>
        Math.Min(options.ContextLength == 0 ? ModelOptions.DefaultContextLength : options.ContextLength, config.ContextLength);

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
            // The model's own numbers at the default context and batch already overflow: the file is absurd.
            int defaultContext = EffectiveContext(config, new ModelOptions());
            bool modelAlone = options.ContextLength == 0 && RunSizes.For(config, defaultContext, Math.Min(ModelOptions.DefaultBatchSize, defaultContext),
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
    public static EurusModel Load(string path, ModelOptions? options = null) => LoadCore(path, options, new LoadReporter(null, default));

    /// <summary>
    /// <see cref="Load(string, ModelOptions?)"/> on the thread pool, off the caller's synchronization context (a UI
    /// thread stays responsive), reporting each stage to <paramref name="progress"/> — converting (a Hugging Face
    /// folder), mapping, repacking (one report per matrix) — with a fraction of the whole load that never goes down and
    /// ends at 1. <paramref name="cancellationToken"/> is honoured between stages and between matrices: the load then
    /// throws <see cref="OperationCanceledException"/> and frees what it had made.
    /// </summary>
    /// <example>
    /// <code>
    /// using var model = await EurusModel.LoadAsync("eurus-7b-kto.Q4_K_M.gguf", new ModelOptions { ContextLength = 8192 },
    ///     new Progress&lt;ModelLoadProgress&gt;(p =&gt; bar.Value = p.Fraction), cancellationToken);
    /// </code>
    /// </example>
    public static Task<EurusModel> LoadAsync(string path, ModelOptions? options = null, IProgress<ModelLoadProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Task.Run(() => LoadCore(path, options, new LoadReporter(progress, cancellationToken)), cancellationToken);
    }

    private static EurusModel LoadCore(string path, ModelOptions? options, LoadReporter reporter)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new ModelOptions();
        options.Validate();
        var model = Directory.Exists(path) ? LoadFolder(path, options, reporter) : LoadGguf(path, options, reporter, 0);
        reporter.Done();
        return model;
    }

    /// <summary>Share of the whole load a folder's conversion takes (it dominates: every weight is read, converted and written).</summary>
    private const double ConversionShare = 0.8;

    /// <summary>
    /// Converting into a temporary GGUF and mapping it (rather than quantizing into memory) keeps one validated load
    /// path, streams the conversion with little memory, and lets the page cache hold the weights that are used through
    /// the map (embeddings, norms, F16/F32 matrices). On Unix the file is unlinked as soon as it is mapped, so it
    /// disappears with the process; elsewhere it is deleted when the model is disposed.
    /// </summary>
    private static EurusModel LoadFolder(string folder, ModelOptions options, LoadReporter reporter)
    {
        // The same size checks as a GGUF load, before minutes of conversion.
        var hf = HfModelConfig.Read(folder);
        CheckSizes(hf.Config, options, msg => new HuggingFaceFormatException(Path.Combine(folder, HfModelConfig.FileName), msg));
        string temp = Path.Combine(Path.GetTempPath(), $"eurus-hf-{Guid.NewGuid():N}.gguf");
        reporter.Begin(ModelLoadStage.Converting, 0, ConversionShare);
        var both = options.LoadProgress is { } legacy ? new FanOut(legacy, reporter) : (IProgress<double>)new FanOut(null, reporter);
        HfConverter.Convert(folder, temp, new HfConversionOptions
        {
            WeightType = options.WeightType,
            Mix = options.Mix,
            Threads = options.Threads,
            Progress = both,
        }, reporter.CancellationToken);
        EurusModel model;
        try
        {
            model = LoadGguf(temp, options, reporter, ConversionShare);
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

    /// <summary>The conversion's fraction, to <see cref="ModelOptions.LoadProgress"/> and to the load's reporter.</summary>
    private sealed class FanOut(IProgress<double>? legacy, LoadReporter reporter) : IProgress<double>
    {
        public void Report(double value)
        {
            legacy?.Report(value);
            reporter.Report(value);
        }
    }

    private static bool TryDelete(string path)
    {
        try { File.Delete(path); return true; }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    private string? _deleteOnDispose;

    /// <summary>Maps, validates and repacks <paramref name="path"/>; its stages fill [<paramref name="from"/>, 1] of the load.</summary>
    private static EurusModel LoadGguf(string path, ModelOptions options, LoadReporter reporter, double from)
    {
        // Mapping and validating take little time next to repacking (a 7B Q4_K repack: 5-8 s).
        double mapped = from + (1 - from) * 0.1;
        reporter.Begin(ModelLoadStage.Mapping, from, mapped);
        var file = GgufFile.Open(path);
        try
        {
            var config = MistralConfig.FromGguf(file);
            var tokenizer = Tokenizer.FromGguf(file);
            if (tokenizer.VocabSize != config.Vocab)
                throw new GgufFormatException(path, -1, $"the tokenizer has {tokenizer.VocabSize} tokens but the embedding has {config.Vocab} rows.");
            reporter.Report(1);
            reporter.Begin(ModelLoadStage.Repacking, mapped, 1);
            return new EurusModel(file, config, tokenizer, options, reporter) { SourcePath = Path.GetFullPath(path) };
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

    /// <summary>Bytes of one session's KV cache (part of <see cref="SessionMemoryBytes"/>): 1 GiB for a 7B F32 cache of 4096 positions.</summary>
    public long KvCacheBytes { get; }

    /// <summary>Sliding attention window in effect, or null for full causal attention.</summary>
    public int? SlidingWindow { get; }

    /// <summary>The file's chat template (Jinja text), if any.</summary>
    public string? ChatTemplate { get; }

    /// <summary>Path of the model file (for a Hugging Face folder, the temporary GGUF it was converted to).</summary>
    public string FilePath => _file.FilePath;

    /// <summary>What <see cref="Load(string, ModelOptions?)"/> was given: the GGUF file, or the Hugging Face model folder.</summary>
    public string SourcePath { get; private set; } = "";

    internal MistralWeights Weights { get; }

    private byte[]? _identity;

    /// <summary>
    /// SHA-256 of what makes two loads the same model for a saved session state: the hyperparameters, every tensor's
    /// name, type and shape with the first bytes of its data (so two fine-tunes of one shape differ), and the tokenizer's
    /// size and special ids. Computed once, on first use (it reads one page per tensor).
    /// </summary>
    internal byte[] Identity => _identity ??= ComputeIdentity();

    private byte[] ComputeIdentity()
    {
        using var h = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        var c = Config;
        h.AppendData(System.Text.Encoding.UTF8.GetBytes(
            $"{c.Dim} {c.Layers} {c.Heads} {c.KvHeads} {c.FeedForward} {c.Vocab} {c.RmsEps:R} {c.RopeTheta:R} {c.RopeDim} {c.ContextLength} {c.SlidingWindow} " +
            $"{Tokenizer.VocabSize} {Tokenizer.BosId} {Tokenizer.EosId}\n"));
        foreach (var t in _file.Tensors)
        {
            h.AppendData(System.Text.Encoding.UTF8.GetBytes($"{t.Name} {t.Type} {string.Join('x', t.Dimensions)}\n"));
            var row = _file.GetRowData(t, 0);
            h.AppendData(row[..Math.Min(row.Length, 256)]);
        }
        return h.GetHashAndReset();
    }

    /// <summary>The worker pool every forward pass of this model runs on, one pass at a time.</summary>
    internal ModelCompute Compute { get; }

    /// <summary>
    /// The error for <paramref name="needed"/> positions in a context of <see cref="ContextLength"/>: says what a session
    /// of that length would hold, or that the model was not trained for it.
    /// </summary>
    internal ContextFullException ContextFull(string what, long needed, string? advice = null)
    {
        string hint;
        if (needed > Config.ContextLength)
            hint = $"The model was trained for {Config.ContextLength} positions at most.";
        else
        {
            var sizes = RunSizes.For(Config, (int)needed, Math.Min(Options.BatchSize, (int)needed), SlidingWindow, Options.KvCacheType);
            hint = $"A session of {needed} positions would hold {sizes.TotalBytes / (1024.0 * 1024 * 1024):0.##} GiB " +
                   $"(this one: {SessionMemoryBytes / (1024.0 * 1024 * 1024):0.##} GiB): load the model with ModelOptions.ContextLength = {needed} or more " +
                   $"(up to {Config.ContextLength}).";
        }
        return new ContextFullException($"{what} needs {needed} positions but the context holds {ContextLength}. {advice}{hint}");
    }

    /// <summary>Most prompt tokens one forward call of a session takes.</summary>
    internal int PromptBatch => Math.Min(Options.BatchSize, ContextLength);

    /// <summary>The sliding window the attention applies (null when none, or when it spans the whole context).</summary>
    internal int? AttentionWindow => SlidingWindow is int w && w < ContextLength ? w : null;

    /// <summary>Positions of one sequence's KV cache (<see cref="KvCache.CapacityFor"/>).</summary>
    internal int KvCapacity => KvCache.CapacityFor(ContextLength, PromptBatch, AttentionWindow);

    internal bool IsDisposed { get; private set; }

    /// <summary>Starts a new conversation with its own KV cache.</summary>
    public InferenceSession CreateSession() => new(this);

    /// <summary>
    /// Waits for a running forward pass to finish, stops the worker threads and unmaps the file. Sessions must not be
    /// used afterwards (they throw <see cref="ObjectDisposedException"/>).
    /// </summary>
    public void Dispose()
    {
        IsDisposed = true;
        Weights.Dispose(); // closes the weights' gate: waits for the passes inside, so the pool is idle after it
        Compute.Dispose();
        _file.Dispose();
        if (_deleteOnDispose is { } temp && TryDelete(temp)) _deleteOnDispose = null;
    }
}
