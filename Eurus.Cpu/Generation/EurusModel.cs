using Eurus.Cpu.Gguf;
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
        Weights = MistralWeights.FromGguf(file, config, options.Threads);
        ContextLength = options.ContextLength == 0 ? config.ContextLength : Math.Min(options.ContextLength, config.ContextLength);
        SlidingWindow = options.SlidingWindow ?? config.SlidingWindow;
        ChatTemplate = file.Metadata.GetStringOrDefault("tokenizer.chat_template");
    }

    /// <summary>
    /// Opens <paramref name="path"/> (a GGUF file), validates it and builds the tokenizer. Throws
    /// <see cref="GgufFormatException"/> for malformed or unsupported files.
    /// </summary>
    public static EurusModel Load(string path, ModelOptions? options = null)
    {
        options ??= new ModelOptions();
        options.Validate();
        var file = GgufFile.Open(path);
        try
        {
            var config = MistralConfig.FromGguf(file);
            var tokenizer = Tokenizer.FromGguf(file);
            if (tokenizer.VocabSize != config.Vocab)
                throw new GgufFormatException(path, -1, $"the tokenizer has {tokenizer.VocabSize} tokens but the embedding has {config.Vocab} rows.");
            return new EurusModel(file, config, tokenizer, options);
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

    /// <summary>Sliding attention window in effect, or null for full causal attention.</summary>
    public int? SlidingWindow { get; }

    /// <summary>The file's chat template (Jinja text), if any.</summary>
    public string? ChatTemplate { get; }

    /// <summary>Path of the model file.</summary>
    public string FilePath => _file.FilePath;

    internal MistralWeights Weights { get; }

    internal bool IsDisposed { get; private set; }

    /// <summary>Starts a new conversation with its own KV cache.</summary>
    public InferenceSession CreateSession() => new(this);

    /// <summary>Unmaps the file. Sessions must not be used afterwards.</summary>
    public void Dispose()
    {
        IsDisposed = true;
        Weights.Dispose();
        _file.Dispose();
    }
}
