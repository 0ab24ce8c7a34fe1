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
    public static int Bench(CliArgs a)
    {
        a.Reject([.. Commands.ModelOptionNames, "p", "n", "r", "repetitions"]);
        int pp = a.GetInt(128, "p"), tg = a.GetInt(32, "n"), reps = a.GetInt(3, "r", "repetitions");
        if (pp < 1 || tg < 1 || reps < 1) throw new CliUsageException("-p, -n and -r must be positive.");
        using var model = Commands.LoadModel(a);
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

    /// <summary>eurus synth -o PATH [--preset tiny|7b] [--type q4_0|q5_0|q8_0|q4_k|q5_k|q6_k|q4_k_m|q5_k_m|f16|f32] [--seed N] [--vocab-from GGUF]</summary>
    public static int Synth(CliArgs a)
    {
        a.Reject("o", "output", "preset", "type", "seed", "vocab-from");
        string path = a.Get("o", "output") ?? throw new CliUsageException("synth needs -o PATH.");
        var preset = (a.Get("preset") ?? "tiny").ToLowerInvariant() switch
        {
            "tiny" => SyntheticModelOptions.Tiny,
            "7b" => SyntheticModelOptions.Eurus7B,
            var p => throw new CliUsageException($"--preset must be tiny or 7b, not '{p}'."),
        };
        string typeName = (a.Get("type") ?? "q4_0").ToLowerInvariant();
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
        var o = preset with { WeightType = type, Mix = mix, Seed = (ulong)a.GetInt(1, "seed"), VocabularyFrom = a.Get("vocab-from") };
        var sw = Stopwatch.StartNew();
        int lastPct = -1;
        SyntheticModel.Write(path, o, new Progress<double>(p =>
        {
            int pct = (int)(p * 100);
            if (pct != lastPct) { lastPct = pct; Console.Error.Write($"\r{pct}%"); }
        }));
        Console.Error.WriteLine($"\rwrote {path}: {new FileInfo(path).Length:N0} bytes in {sw.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
