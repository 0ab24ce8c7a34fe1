using System.Diagnostics;
using Eurus.Cpu.Generation;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Eurus.Cpu.Bench;

/// <summary>
/// Side-by-side prompt (pp) and generation (tg) speed of Eurus.Cpu and llama.cpp (LLamaSharp 0.30, best CPU variant)
/// on the same GGUF file in the same process: <c>compare -m FILE [-p 128] [-n 32] [-t 2] [-r 3]</c>.
/// </summary>
internal static class CompareWithLlamaCpp
{
    public static void Run(string[] args)
    {
        string Arg(string name, string fallback) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback; }
        string path = Arg("-m", "");
        int pp = int.Parse(Arg("-p", "128")), tg = int.Parse(Arg("-n", "32")), threads = int.Parse(Arg("-t", "2")), reps = int.Parse(Arg("-r", "3"));
        string which = Arg("--only", "both");
        if (!File.Exists(path)) { Console.Error.WriteLine("compare: -m FILE is required"); return; }
        var rng = new Random(1);
        var rows = new List<string>();
        double[]? ours = null, theirs = null;
        if (which is "both" or "eurus") ours = Eurus(path, pp, tg, threads, reps, rng);
        if (which is "both" or "llama") theirs = Llama(path, pp, tg, threads, reps);
        Console.WriteLine($"| file | threads | test | Eurus.Cpu t/s | llama.cpp t/s | ratio |");
        Console.WriteLine($"|---|---|---|---|---|---|");
        for (int k = 0; k < 2; k++)
        {
            string test = k == 0 ? $"pp{pp}" : $"tg{tg}";
            string o = ours is null ? "-" : $"{ours[2 * k]:F2} ± {ours[2 * k + 1]:F2}";
            string t = theirs is null ? "-" : $"{theirs[2 * k]:F2} ± {theirs[2 * k + 1]:F2}";
            string r = ours is null || theirs is null ? "-" : $"{ours[2 * k] / theirs[2 * k]:F2}×";
            Console.WriteLine($"| {Path.GetFileName(path)} | {threads} | {test} | {o} | {t} | {r} |");
        }
    }

    private static double[] Stats(List<double> pp, List<double> tg) => [.. MeanSd(pp), .. MeanSd(tg)];

    private static double[] MeanSd(List<double> x)
    {
        double m = x.Average();
        return [m, x.Count > 1 ? Math.Sqrt(x.Sum(v => (v - m) * (v - m)) / (x.Count - 1)) : 0];
    }

    private static double[] Eurus(string path, int pp, int tg, int threads, int reps, Random rng)
    {
        var sw = Stopwatch.StartNew();
        using var model = EurusModel.Load(path, new ModelOptions { Threads = threads, ContextLength = pp + tg + 8, BatchSize = pp });
        Console.Error.WriteLine($"Eurus.Cpu: loaded in {sw.Elapsed.TotalSeconds:F1} s");
        var prompt = Enumerable.Range(0, pp).Select(i => i == 0 ? 1 : rng.Next(3, model.Config.Vocab)).ToArray();
        using var s = model.CreateSession();
        s.Evaluate(prompt.AsSpan(0, 4));
        var ppr = new List<double>(); var tgr = new List<double>();
        var one = new int[1];
        for (int r = 0; r < reps; r++)
        {
            s.Reset();
            sw.Restart();
            s.Evaluate(prompt);
            ppr.Add(pp / sw.Elapsed.TotalSeconds);
            s.Reset();
            s.Evaluate([1]);
            sw.Restart();
            for (int i = 0; i < tg; i++) { one[0] = 3 + i; s.Evaluate(one); }
            tgr.Add(tg / sw.Elapsed.TotalSeconds);
        }
        return Stats(ppr, tgr);
    }

    private static double[] Llama(string path, int pp, int tg, int threads, int reps)
    {
        NativeLibraryConfig.All.WithCuda(false).WithVulkan(false).WithLogCallback((level, msg) => { });
        NativeApi.llama_empty_call();
        NativeLogConfig.llama_log_set((level, msg) => { });
        var p = new ModelParams(path)
        {
            GpuLayerCount = 0, ContextSize = (uint)(pp + tg + 8), BatchSize = (uint)pp, UBatchSize = (uint)pp, SeqMax = 1,
            Threads = threads, BatchThreads = threads, FlashAttention = false,
        };
        var sw = Stopwatch.StartNew();
        using var model = LLamaWeights.LoadFromFile(p);
        using var ctx = model.CreateContext(p);
        Console.Error.WriteLine($"llama.cpp: loaded in {sw.Elapsed.TotalSeconds:F1} s");
        var ppr = new List<double>(); var tgr = new List<double>();
        var batch = new LLamaBatch();
        for (int r = 0; r < reps + 1; r++)
        {
            ctx.NativeHandle.MemoryClear(true);
            batch.Clear();
            for (int i = 0; i < pp; i++) batch.Add(i == 0 ? 1 : 3 + i % 1000, i, (LLamaSeqId)0, i == pp - 1);
            sw.Restart();
            if (ctx.Decode(batch) != DecodeResult.Ok) throw new InvalidOperationException("llama.cpp decode failed");
            double ppRate = pp / sw.Elapsed.TotalSeconds;
            ctx.NativeHandle.MemoryClear(true);
            batch.Clear();
            batch.Add(1, 0, (LLamaSeqId)0, true);
            ctx.Decode(batch);
            sw.Restart();
            for (int i = 0; i < tg; i++)
            {
                batch.Clear();
                batch.Add(3 + i, i + 1, (LLamaSeqId)0, true);
                if (ctx.Decode(batch) != DecodeResult.Ok) throw new InvalidOperationException("llama.cpp decode failed");
            }
            double tgRate = tg / sw.Elapsed.TotalSeconds;
            if (r > 0) { ppr.Add(ppRate); tgr.Add(tgRate); } // the first round warms up
        }
        return Stats(ppr, tgr);
    }
}
