using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.HuggingFace;
using Eurus.Cpu.Quantization;

namespace Eurus.Cli;

/// <summary><c>eurus convert</c> (HF folder → GGUF) and <c>eurus pull</c> (download from a hub).</summary>
internal static class HfCommands
{
    internal const string TypeNames = "q8_0, q4_0, q5_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m, f16, bf16 or f32";

    /// <summary>
    /// A --type value: a single matrix type, or one of llama-quantize's mixtures (q4_k_m, q5_k_m, and q6_k, whose
    /// rules also keep rows that are not a multiple of 256 in Q8_0).
    /// </summary>
    internal static (GgmlType Type, QuantMix? Mix) ParseType(string? text, GgmlType fallback) => text?.ToLowerInvariant() switch
    {
        null => (fallback, null),
        "q8_0" => (GgmlType.Q8_0, null),
        "q4_0" => (GgmlType.Q4_0, null),
        "q5_0" => (GgmlType.Q5_0, null),
        "q4_k" => (GgmlType.Q4_K, null),
        "q5_k" => (GgmlType.Q5_K, null),
        "q6_k" => (GgmlType.Q6_K, QuantMix.Q6_K),
        "q4_k_m" => (GgmlType.Q4_K, QuantMix.Q4_K_M),
        "q5_k_m" => (GgmlType.Q5_K, QuantMix.Q5_K_M),
        "f16" => (GgmlType.F16, null),
        "bf16" => (GgmlType.BF16, null),
        "f32" => (GgmlType.F32, null),
        _ => throw new CliUsageException($"--type must be {TypeNames}, not '{text}'."),
    };

    /// <summary>Whether an earlier pull finished: config, weights (every shard the index lists) and no partial files.</summary>
    internal static bool IsComplete(string dir)
    {
        if (!HfConverter.IsModelFolder(dir) || Directory.GetFiles(dir, "*.part").Length > 0) return false;
        try
        {
            using var ckpt = Eurus.Cpu.Safetensors.SafetensorsCheckpoint.Open(dir);
            return true;
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return false;
        }
    }

    internal static string DefaultDir(string repo) =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "eurus", "hf", repo.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>eurus pull ORG/NAME [--revision main] [--dir DIR] [--endpoint URL]</summary>
    public static Command PullCommand()
    {
        var repo = new Argument<string>("ORG/NAME") { Description = "the repository id" };
        var hf = new HfArgs(withType: false);
        var command = new Command("pull", "download a model from a Hugging Face hub (HF_ENDPOINT, HF_TOKEN); resumable, SHA-256 checked") { repo };
        hf.AddTo(command);
        command.SetAction(async (r, ct) =>
        {
            string id = r.GetValue(repo)!;
            try { HfHubClient.ValidateRepoId(id); } catch (ArgumentException e) { throw new CliUsageException(e.Message); }
            var cts = Interrupt.Begin();
            try
            {
                string dir = await hf.PullAsync(r, id, r.GetValue(hf.Dir) ?? DefaultDir(id), cts.Token);
                Console.Out.WriteLine(dir);
                return ExitCodes.Ok;
            }
            finally { Interrupt.End(cts); }
        });
        return command;
    }

    /// <summary>eurus convert FOLDER -o OUT.gguf [--type TYPE] [-t THREADS]</summary>
    public static Command ConvertCommand()
    {
        var folder = new Argument<string>("FOLDER") { Description = "a Hugging Face model folder (safetensors, config.json, tokenizer.model)" };
        var output = new Option<string>("--output", "-o") { Description = "the GGUF file to write", HelpName = "OUT.gguf", Required = true };
        var type = new Option<string?>("--type") { Description = $"weight type: {TypeNames} (default q8_0)", HelpName = "TYPE" };
        var threads = new Option<int>("--threads", "-t") { Description = "threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("convert", "convert a Hugging Face folder to GGUF") { folder, output, type, threads };
        command.SetAction(r =>
        {
            string dir = r.GetValue(folder)!;
            if (!HfConverter.IsModelFolder(dir)) throw new CliUsageException($"{dir} is not a Hugging Face model folder (no config.json).");
            string path = r.GetValue(output)!;
            var (t, mix) = ParseType(r.GetValue(type), GgmlType.Q8_0);
            int n = r.GetValue(threads);
            if (n < 1) throw new CliUsageException("--threads must be at least 1.");
            var cts = Interrupt.Begin();
            try
            {
                var sw = Stopwatch.StartNew();
                ConsoleUi.WithProgress($"converting to {(mix is { } m ? m.ToString() : t.ToString())}", p =>
                {
                    HfConverter.Convert(dir, path, new HfConversionOptions { WeightType = t, Mix = mix, Threads = n, Progress = p }, cts.Token);
                    return 0;
                });
                Console.Error.WriteLine($"eurus: wrote {path} ({new FileInfo(path).Length.ToString("N0", CultureInfo.InvariantCulture)} bytes) in {sw.Elapsed.TotalSeconds:F1} s");
                return ExitCodes.Ok;
            }
            finally { Interrupt.End(cts); }
        });
        return command;
    }
}
