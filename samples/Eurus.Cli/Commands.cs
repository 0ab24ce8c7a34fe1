using System.Globalization;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Model;
using Eurus.Cpu.Sampling;

namespace Eurus.Cli;

/// <summary>generate, tokenize, perplexity and chat.</summary>
internal static class Commands
{
    public static Task<int> RunAsync(CliArgs a) => a.Command switch
    {
        "generate" => GenerateAsync(a),
        "tokenize" => Task.FromResult(Tokenize(a)),
        "perplexity" => Task.FromResult(Perplexity(a)),
        "chat" => ChatAsync(a),
        "bench" => Task.FromResult(BenchCommands.Bench(a)),
        "synth" => Task.FromResult(BenchCommands.Synth(a)),
        "eval" => EvalCommands.RunAsync(a),
        "convert" => Task.FromResult(HfCommands.Convert(a)),
        "pull" => HfCommands.PullAsync(a),
        _ => throw new CliUsageException($"unknown command '{a.Command}'. Try 'eurus help'."),
    };

    internal static readonly string[] ModelOptionNames = ["m", "model", "t", "threads", "c", "ctx-size", "kv-type", "window", "b", "batch-size", .. HfCommands.OptionNames];

    internal static EurusModel LoadModel(CliArgs a)
    {
        string path = HfCommands.ResolveModelAsync(a, a.Get("m", "model") ?? CliApp.DefaultModelPath).GetAwaiter().GetResult();
        if (!File.Exists(path) && !Directory.Exists(path)) throw new CliUsageException($"model file not found: {path}");
        var bar = new HfCommands.ProgressBar("converting");
        var (type, mix) = HfCommands.ParseType(a.Get("type"), Eurus.Cpu.Gguf.GgmlType.Q8_0);
        var options = new ModelOptions
        {
            Threads = a.GetInt(Environment.ProcessorCount, "t", "threads"),
            ContextLength = a.GetInt(0, "c", "ctx-size"),
            KvCacheType = KvType(a),
            SlidingWindow = a.Get("window") is null ? null : a.GetInt(0, "window"),
            BatchSize = a.GetInt(64, "b", "batch-size"),
            WeightType = type,
            Mix = mix,
            LoadProgress = new HfCommands.SyncProgress<double>(f => bar.Report(f, null)),
        };
        try { return EurusModel.Load(path, options); }
        catch (ArgumentOutOfRangeException e) { throw new CliUsageException(e.Message); }
        finally { bar.Finish(); }
    }

    /// <summary>--kv-type f16 (default, as llama.cpp) or f32.</summary>
    internal static KvCacheType KvType(CliArgs a) => (a.Get("kv-type") ?? "f16").ToLowerInvariant() switch
    {
        "f32" => KvCacheType.F32,
        "f16" => KvCacheType.F16,
        var kv => throw new CliUsageException($"--kv-type must be f32 or f16, not '{kv}'."),
    };

    internal static SamplingSettings Sampling(CliArgs a)
    {
        var s = new SamplingSettings
        {
            Temperature = a.GetFloat(0.8f, "temp"),
            TopK = a.GetInt(40, "top-k"),
            TopP = a.GetFloat(0.95f, "top-p"),
            MinP = a.GetFloat(0.05f, "min-p"),
            RepeatPenalty = a.GetFloat(1.0f, "repeat-penalty"),
            PenaltyWindow = a.GetInt(64, "repeat-last-n"),
            FrequencyPenalty = a.GetFloat(0f, "frequency-penalty"),
            PresencePenalty = a.GetFloat(0f, "presence-penalty"),
            Seed = a.Get("seed", "s") is { } seed
                ? ulong.TryParse(seed, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong v) ? v : throw new CliUsageException($"--seed expects a non-negative integer, got '{seed}'.")
                : null,
            MaxTokens = a.GetInt(128, "n", "n-predict"),
            StopStrings = a.Get("stop") is { } stop ? [stop.Replace("\\n", "\n")] : [],
        };
        try { s.Validate(); } catch (ArgumentException e) { throw new CliUsageException(e.Message); }
        return s;
    }

    private static readonly string[] SamplingOptionNames =
        ["temp", "top-k", "top-p", "min-p", "repeat-penalty", "repeat-last-n", "frequency-penalty", "presence-penalty", "seed", "s", "n", "n-predict", "stop"];

    private static async Task<int> GenerateAsync(CliArgs a)
    {
        a.Reject([.. ModelOptionNames, .. SamplingOptionNames, "p", "prompt", "f", "file"]);
        string prompt = a.Get("p", "prompt") ?? (a.Get("f", "file") is { } f ? await File.ReadAllTextAsync(f) : throw new CliUsageException("generate needs -p PROMPT (or -f FILE)."));
        var settings = Sampling(a);
        using var model = LoadModel(a);
        using var session = model.CreateSession();
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        var stdout = Console.Out;
        try
        {
            await foreach (var piece in session.GenerateAsync(prompt, settings, cts.Token))
            {
                stdout.Write(piece);
                stdout.Flush();
            }
        }
        catch (OperationCanceledException) { }
        stdout.WriteLine();
        Console.Error.WriteLine($"eurus: {session.LastTimings}");
        return 0;
    }

    private static int Tokenize(CliArgs a)
    {
        a.Reject([.. ModelOptionNames, "p", "prompt"]);
        string text = a.Get("p", "prompt") ?? throw new CliUsageException("tokenize needs -p TEXT.");
        using var model = LoadModel(a);
        Console.Out.WriteLine(string.Join(' ', model.Tokenizer.Encode(text, model.Tokenizer.AddBos)));
        return 0;
    }

    /// <summary>llama-perplexity's method and its KL-divergence mode (see <see cref="PerplexityCommand"/>).</summary>
    private static int Perplexity(CliArgs a)
    {
        a.Reject([.. ModelOptionNames, "f", "file", "kl-divergence-base", "kl-divergence"]);
        string file = a.Get("f", "file") ?? throw new CliUsageException("perplexity needs -f FILE.");
        string model = HfCommands.ResolveModelAsync(a, a.Get("m", "model") ?? CliApp.DefaultModelPath).GetAwaiter().GetResult();
        return PerplexityCommand.Run(model, file, a.GetInt(128, "c", "ctx-size"), a.GetInt(64, "b", "batch-size"), a.GetInt(Environment.ProcessorCount, "t", "threads"),
            KvType(a), a.Get("kl-divergence-base"), a.Has("kl-divergence"), Console.Out, Console.Error);
    }

    private static async Task<int> ChatAsync(CliArgs a)
    {
        a.Reject([.. ModelOptionNames, .. SamplingOptionNames]);
        var settings = Sampling(a);
        using var model = LoadModel(a);
        // Mistral-Instruct v0.1 turns (<s>[INST] u1 [/INST]a1</s>[INST] u2 [/INST]); each turn evaluates only its tokens.
        using var session = new Eurus.Cpu.Chat.ChatSession(model);
        Console.Error.WriteLine("eurus chat: type a message, an empty line or Ctrl-D to quit.");
        while (true)
        {
            Console.Error.Write("> ");
            string? line = Console.In.ReadLine();
            if (string.IsNullOrWhiteSpace(line)) break;
            try
            {
                await foreach (var piece in session.SendAsync(line, settings))
                {
                    Console.Out.Write(piece);
                    Console.Out.Flush();
                }
            }
            catch (ContextFullException e)
            {
                Console.Error.WriteLine($"eurus: {e.Message} Start a new chat.");
                break;
            }
            Console.Out.WriteLine();
            Console.Error.WriteLine($"eurus: {session.LastTimings}");
        }
        return 0;
    }
}
