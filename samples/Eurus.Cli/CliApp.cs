using System.Globalization;
using Eurus.Cpu.Gguf;

namespace Eurus.Cli;

/// <summary>The <c>eurus</c> command line: payload on stdout, diagnostics on stderr, exit code 1 on errors.</summary>
internal static class CliApp
{
    public static string DefaultModelPath => Path.Combine(AppContext.BaseDirectory, "models", "kjv-tiny-Q8_0.gguf");

    public static async Task<int> RunAsync(string[] args)
    {
        bool verbose = args.Contains("--verbose");
        try
        {
            var cmd = CliArgs.Parse(args.Where(a => a != "--verbose").ToArray());
            return cmd.Command switch
            {
                "info" => Info(cmd),
                "help" or "--help" or "-h" => Help(),
                _ => await Commands.RunAsync(cmd),
            };
        }
        catch (Exception e) when (e is CliUsageException or GgufFormatException or InsufficientMemoryException or IOException or UnauthorizedAccessException
                                      or ArgumentException or InvalidOperationException or NotSupportedException or FormatException
                                      or OperationCanceledException)
        {
            Console.Error.WriteLine($"eurus: {e.Message}");
            if (verbose) Console.Error.WriteLine(e);
            return 1;
        }
    }

    private static int Help()
    {
        Console.Out.WriteLine("""
            usage: eurus <command> [options]
              generate  [-m MODEL] -p PROMPT [-n 128] [--temp 0.8] [--top-k 40] [--top-p 0.95] [--min-p 0.05]
                        [--repeat-penalty 1.0] [--seed N] [--stop TEXT] [-t THREADS] [-c CTX] [--kv-type f16|f32] [--window N]
                                                 print the generated text (not the prompt); --temp 0 is greedy
              tokenize  [-m MODEL] -p TEXT        print the token ids (with BOS)
              perplexity [-m MODEL] -f FILE [-c 128] [--kv-type f16|f32] [--kl-divergence-base FILE [--kl-divergence]]
                                                 llama-perplexity's method; last line 'perplexity: X'; --kl-divergence-base alone
                                                 saves the model's log-probs, with --kl-divergence compares against them
              chat      [-m MODEL]               interactive multi-turn chat ([INST] ... [/INST] format)
              info      [-m MODEL]               print a GGUF file's metadata and tensor table
              bench     [-m MODEL] [-p 128] [-n 32] [-t THREADS] [-r 3]
                                                 prompt (pp) and generation (tg) speed, llama-bench style
              synth     -o PATH [--preset tiny|7b] [--type q4_0|q5_0|q8_0|q4_k|q5_k|q6_k|q4_k_m|q5_k_m|f16|f32] [--seed N] [--vocab-from GGUF]
                                                 write a synthetic model (7b: the exact Eurus-7B shape, ~4-8 GB)
              eval      --task math|gsm|code [--mode cot|pot] --data FILE.jsonl [-m MODEL] [--limit N] [--out FILE.jsonl]
                        [-n MAX_TOKENS] [--allow-code-execution] [--python python3] [--timeout 5]
                                                 the paper's evaluation: card prompt, greedy, graded; 'accuracy: X/Y'
                                                 (pot and code run model-written Python: unsafe, needs the flag)
              convert   FOLDER -o OUT.gguf [--type q8_0|q4_0|q5_0|q4_k|q5_k|q6_k|q4_k_m|q5_k_m|f16|bf16|f32] [-t THREADS]
                                                 convert a Hugging Face folder (safetensors, config.json, tokenizer.model)
              pull      ORG/NAME [--revision main] [--dir DIR] [--endpoint URL]
                                                 download a model from a Hugging Face hub (HF_ENDPOINT, HF_TOKEN)
            -m also takes a Hugging Face folder or hf:ORG/NAME (--type as for convert picks the weight type, default q8_0).
            Without -m the bundled demo model (kjv-tiny Q8_0) is used. Add --verbose for stack traces.
            """);
        return 0;
    }

    private static int Info(CliArgs a)
    {
        a.Reject("m");
        string path = a.Get("m") ?? DefaultModelPath;
        using var f = GgufFile.Open(path);
        var o = Console.Out;
        o.WriteLine($"file: {f.FilePath}");
        o.WriteLine($"GGUF v{f.Version}, {f.FileLength:N0} bytes, alignment {f.Alignment}, data at {f.DataOffset}");
        o.WriteLine($"metadata ({f.Metadata.Count}):");
        foreach (var (k, v) in f.Metadata) o.WriteLine($"  {k,-44} {v}");
        o.WriteLine($"tensors ({f.Tensors.Count}):");
        o.WriteLine($"  {"name",-32} {"type",-6} {"shape",-16} {"bytes",12}");
        foreach (var t in f.Tensors)
            o.WriteLine($"  {t.Name,-32} {t.Type,-6} {string.Join(" x ", t.Dimensions),-16} {t.ByteSize.ToString("N0", CultureInfo.InvariantCulture),12}");
        long total = f.Tensors.Sum(t => t.ElementCount);
        o.WriteLine($"parameters: {total:N0}");
        return 0;
    }
}
