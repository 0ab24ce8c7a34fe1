using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;

namespace Eurus.Cli;

/// <summary><c>eurus bench</c> (llama-bench-like pp/tg table) and <c>eurus synth</c> (synthetic model files).</summary>
internal static class BenchCommands
{
    /// <summary>eurus bench -m MODEL [-p 128] [-n 32] [-t 2] [-r 3]</summary>
    public static Command BenchCommand()
    {
        var prompt = new Option<int>("--n-prompt", "-p") { Description = "prompt tokens (pp test)", DefaultValueFactory = _ => 128 };
        var gen = new Option<int>("--n-gen", "-n") { Description = "generated tokens (tg test)", DefaultValueFactory = _ => 32 };
        var reps = new Option<int>("--repetitions", "-r") { Description = "repetitions of each test", DefaultValueFactory = _ => 3 };
        var model = new ModelArgs();
        var command = new Command("bench", "prompt (pp) and generation (tg) speed, llama-bench style (a markdown table on stdout)") { prompt, gen, reps };
        model.AddTo(command);
        command.SetAction(async (r, ct) =>
        {
            int pp = r.GetValue(prompt), tg = r.GetValue(gen), n = r.GetValue(reps);
            if (pp < 1 || tg < 1 || n < 1) throw new CliUsageException("-p, -n and -r must be positive.");
            using var m = await model.LoadAsync(r, cancellationToken: ct);
            return Bench(m, pp, tg, n);
        });
        return command;
    }

    private static int Bench(EurusModel model, int pp, int tg, int reps)
    {
        if (pp + tg > model.ContextLength) throw new CliUsageException($"-p + -n exceeds the context of {model.ContextLength}.");
        var rng = new Random(1);
        var prompt = Enumerable.Range(0, pp).Select(i => i == 0 ? model.Tokenizer.BosId : rng.Next(3, model.Config.Vocab)).ToArray();
        var ppRates = new List<double>();
        var tgRates = new List<double>();
        using var session = model.CreateSession();
        session.Evaluate(prompt.AsSpan(0, Math.Min(8, pp))); // warm-up (JIT)
        for (int r = 0; r < reps; r++)
        {
            session.Reset();
            var sw = Stopwatch.StartNew();
            session.Evaluate(prompt);
            ppRates.Add(pp / sw.Elapsed.TotalSeconds);
            session.Reset();
            session.Evaluate([model.Tokenizer.BosId]);
            sw.Restart();
            var next = new int[1];
            for (int i = 0; i < tg; i++)
            {
                next[0] = rng.Next(3, model.Config.Vocab);
                session.Evaluate(next);
            }
            tgRates.Add(tg / sw.Elapsed.TotalSeconds);
        }
        string size = $"{new FileInfo(model.FilePath).Length / (double)(1L << 30):F2} GiB";
        Console.Out.WriteLine($"| model | size | threads | test | t/s |");
        Console.Out.WriteLine($"|---|---|---|---|---|");
        Console.Out.WriteLine($"| {Path.GetFileName(model.FilePath)} | {size} | {model.Options.Threads} | pp{pp} | {Stat(ppRates)} |");
        Console.Out.WriteLine($"| {Path.GetFileName(model.FilePath)} | {size} | {model.Options.Threads} | tg{tg} | {Stat(tgRates)} |");
        return 0;
    }

    private static string Stat(List<double> x)
    {
        double mean = x.Average();
        double sd = x.Count > 1 ? Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Count - 1)) : 0;
        return $"{mean.ToString("F2", CultureInfo.InvariantCulture)} ± {sd.ToString("F2", CultureInfo.InvariantCulture)}";
    }

    /// <summary>eurus synth -o PATH [--preset tiny|7b] [--type q4_0|q5_0|q8_0|q4_k|q5_k|q6_k|q4_k_m|q5_k_m|f16|f32] [--weights random|induction] [--seed N] [--vocab-from GGUF]</summary>
    public static Command SynthCommand()
    {
        var output = new Option<string>("--output", "-o") { Description = "the GGUF file to write", HelpName = "PATH", Required = true };
        var preset = new Option<string>("--preset") { Description = "shape: tiny, or 7b (the exact Eurus-7B shape, ~4-8 GB)", DefaultValueFactory = _ => "tiny" }
            .AcceptOnlyFromAmong("tiny", "7b");
        var type = new Option<string>("--type") { Description = "weight type: q4_0, q5_0, q8_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m, f16 or f32", DefaultValueFactory = _ => "q4_0" };
        var seed = new Option<ulong>("--seed", "-s") { Description = "seed of the weights", DefaultValueFactory = _ => 1 };
        var vocab = new Option<string?>("--vocab-from") { Description = "copy the tokenizer of this GGUF file", HelpName = "GGUF" };
        var weights = new Option<string>("--weights")
        {
            Description = "random (no behaviour), or induction: a constructed (not trained) copying model whose greedy continuation " +
                "repeats the passage the prompt ends in, at the same cost per token (needs a shape like 7b's; tiny is too small)",
            DefaultValueFactory = _ => "random",
        }.AcceptOnlyFromAmong("random", "induction");
        var command = new Command("synth", "write a synthetic model with random weights, or a constructed copying model (for benchmarks and tests)")
        {
            output, preset, type, weights, seed, vocab,
        };
        command.SetAction(r =>
        {
            var shape = r.GetValue(preset) == "7b" ? SyntheticModelOptions.Eurus7B : SyntheticModelOptions.Tiny;
            if (r.GetValue(weights) == "induction")
                shape = shape with { Weights = SyntheticWeights.Induction, Name = shape.Name + "-induction" };
            return Synth(r.GetValue(output)!, shape, r.GetValue(type)!, r.GetValue(seed), r.GetValue(vocab));
        });
        return command;
    }

    private static int Synth(string path, SyntheticModelOptions preset, string typeName, ulong seed, string? vocabFrom)
    {
        typeName = typeName.ToLowerInvariant();
        // q4_k_m / q5_k_m: llama-quantize's mixtures (Q6_K for output, and attn_v/ffn_down of some layers).
        Eurus.Cpu.Quantization.QuantMix? mix = typeName switch
        {
            "q4_k_m" => Eurus.Cpu.Quantization.QuantMix.Q4_K_M,
            "q5_k_m" => Eurus.Cpu.Quantization.QuantMix.Q5_K_M,
            _ => null,
        };
        var type = mix is not null ? GgmlType.F32 : typeName switch
        {
            "q4_0" => GgmlType.Q4_0,
            "q8_0" => GgmlType.Q8_0,
            "q5_0" => GgmlType.Q5_0,
            "q4_k" => GgmlType.Q4_K,
            "q5_k" => GgmlType.Q5_K,
            "q6_k" => GgmlType.Q6_K,
            "f16" => GgmlType.F16,
            "f32" => GgmlType.F32,
            var t => throw new CliUsageException($"--type must be q4_0, q5_0, q8_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m, f16 or f32, not '{t}'."),
        };
        if (vocabFrom is not null && !File.Exists(vocabFrom)) throw new CliUsageException($"file not found: {vocabFrom}");
        var o = preset with { WeightType = type, Mix = mix, Seed = seed, VocabularyFrom = vocabFrom };
        var sw = Stopwatch.StartNew();
        ConsoleUi.WithProgress($"writing {Path.GetFileName(path)}", p => { SyntheticModel.Write(path, o, p); return 0; });
        Console.Error.WriteLine($"eurus: wrote {path}: {new FileInfo(path).Length:N0} bytes in {sw.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
