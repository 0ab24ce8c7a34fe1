using System.CommandLine;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Model;

namespace Eurus.Cli;

/// <summary>The options of every command that loads a model (llama.cpp's names: -m, -t, -c, -b), and the loading.</summary>
internal sealed class ModelArgs
{
    public Option<string?> Model { get; } = new("--model", "-m")
    {
        Description = "GGUF file, Hugging Face folder or hf:ORG/NAME (default: the bundled demo model, kjv-tiny Q8_0)",
        HelpName = "MODEL",
    };

    public Option<int> Threads { get; } = new("--threads", "-t")
    {
        Description = "compute threads",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    /// <summary>null for a command whose -c means something else (perplexity's chunk size).</summary>
    public Option<int>? Context { get; }

    public Option<string> KvType { get; } = new Option<string>("--kv-type")
    {
        Description = "KV cache element type (f16 as llama.cpp: half the memory of f32)",
        DefaultValueFactory = _ => "f16",
    }.AcceptOnlyFromAmong("f16", "f32");

    public Option<int?> Window { get; } = new("--window") { Description = "sliding attention window (default: the model's)", HelpName = "N" };

    public Option<int> Batch { get; } = new("--batch-size", "-b")
    {
        Description = "prompt tokens evaluated per forward pass",
        DefaultValueFactory = _ => 64,
    };

    public HfArgs Hf { get; } = new(withType: true);

    public ModelArgs(bool withContext = true)
    {
        if (withContext)
            Context = new Option<int>("--ctx-size", "-c") { Description = "context length in tokens (0: 4096, or the model's trained length if smaller)", DefaultValueFactory = _ => 0 };
    }

    public void AddTo(Command command)
    {
        command.Add(Model);
        command.Add(Threads);
        if (Context is not null) command.Add(Context);
        command.Add(Batch);
        command.Add(KvType);
        command.Add(Window);
        Hf.AddTo(command);
    }

    /// <summary>The model path as given (or the bundled one), before hf: resolution.</summary>
    public string ModelPath(ParseResult r) => r.GetValue(Model) ?? CliApp.DefaultModelPath;

    /// <summary>
    /// Loads the model <c>-m</c> names (pulling an <c>hf:</c> repository first) with a progress bar (mapping, repacking,
    /// a Hugging Face folder's conversion). <paramref name="contextLength"/> overrides <c>-c</c>.
    /// </summary>
    public async Task<EurusModel> LoadAsync(ParseResult r, int? contextLength = null, CancellationToken cancellationToken = default)
    {
        string path = await Hf.ResolveModelAsync(r, ModelPath(r), cancellationToken);
        if (!File.Exists(path) && !Directory.Exists(path)) throw new CliUsageException($"model file not found: {path}");
        var (type, mix) = HfCommands.ParseType(Hf.Type is null ? null : r.GetValue(Hf.Type), Eurus.Cpu.Gguf.GgmlType.Q8_0);
        int threads = r.GetValue(Threads), batch = r.GetValue(Batch);
        if (threads < 1) throw new CliUsageException("--threads must be at least 1.");
        if (batch < 1) throw new CliUsageException("--batch-size must be at least 1.");
        var options = new ModelOptions
        {
            Threads = threads,
            ContextLength = contextLength ?? (Context is null ? 0 : r.GetValue(Context)),
            KvCacheType = r.GetValue(KvType) == "f16" ? KvCacheType.F16 : KvCacheType.F32,
            SlidingWindow = r.GetValue(Window),
            BatchSize = batch,
            WeightType = type,
            Mix = mix,
        };
        try
        {
            // LoadAsync reports mapping, repacking (and a Hugging Face folder's conversion); Ctrl-C cancels it.
            string label = $"loading {Path.GetFileName(Path.TrimEndingDirectorySeparator(path))}";
            return ConsoleUi.WithProgress(label, p => EurusModel.LoadAsync(path, options,
                new SyncProgress<ModelLoadProgress>(l => p.Report(l.Fraction)), cancellationToken).GetAwaiter().GetResult());
        }
        catch (ArgumentOutOfRangeException e) { throw new CliUsageException(e.Message); }
    }
}
