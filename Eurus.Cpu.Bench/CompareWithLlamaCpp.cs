using System.Diagnostics;
using Eurus.Cpu.Generation;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Eurus.Cpu.Bench;

/// <summary>
/// Side-by-side prompt (pp) and generation (tg) speed of Eurus.Cpu and llama.cpp (LLamaSharp 0.30, best CPU variant)
/// on the same GGUF file in the same process: <c>compare -m FILE [-p 128] [-n 32] [-t 2] [-r 3] [--only eurus|llama] [--sequential] [--profile]
/// [--isa avx2|avx512|vnni|native] [--ab NAME=VALUE] [--theirs-first]</c>. <c>--isa</c> measures a CPU class this machine can emulate downward: the
/// comparison re-runs itself in a child process with that class's <c>DOTNET_Enable…=0</c> switches (Eurus.Cpu) and loads
/// LLamaSharp's native build of the same class (llama.cpp). <c>--ab NAME=VALUE</c> compares Eurus.Cpu with itself
/// instead: the second engine is Eurus.Cpu loaded after setting the benchmark switch NAME (e.g. <c>EURUS_Q6K_COMPACT=0</c>)
/// in this process, rounds alternated as against llama.cpp — an A/B of one kernel option on a noisy machine.
/// </summary>
internal static class CompareWithLlamaCpp
{
    /// <summary>The runtime switches that make this process a machine of <paramref name="isa"/>'s class.</summary>
    private static Dictionary<string, string> Switches(string isa) => isa switch
    {
        // Zen 2/3, Intel before 2021: none of them has GFNI either (Zen 4 and Ice Lake on have it; the nibble kernels
        // take one GF2P8AFFINEQB for a high nibble where GFNI runs, a shift and a mask where not).
        "avx2" => new() { ["DOTNET_EnableAVX512"] = "0", ["DOTNET_EnableAVXVNNI"] = "0", ["DOTNET_EnableGFNI"] = "0" },
        "avx512" => new() { ["DOTNET_EnableAVXVNNI"] = "0" },                             // Zen 4 (.NET 10 has no 512-bit VNNI)
        "vnni" or "native" => new(),
        _ => throw new ArgumentException($"--isa must be avx2, avx512, vnni or native, not '{isa}'."),
    };

    public static void Run(string[] args)
    {
        string Arg(string name, string fallback) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback; }
        string isa = Arg("--isa", "native");
        var switches = Switches(isa);
        bool inChild = Environment.GetEnvironmentVariable("EURUS_COMPARE_CHILD") is not null;
        if (isa == "vnni" && !System.Runtime.Intrinsics.X86.AvxVnni.IsSupported && !inChild)
        {
            Console.Error.WriteLine("compare: --isa vnni needs a CPU with AVX-VNNI; this one has none.");
            return;
        }
        if (switches.Count > 0 && !inChild)
        {
            // The switches act at process start: run the same command again in a child that has them.
            var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
            foreach (var a in Environment.GetCommandLineArgs().Skip(1)) psi.ArgumentList.Add(a);
            foreach (var (k, v) in switches) psi.Environment[k] = v;
            psi.Environment["EURUS_COMPARE_CHILD"] = "1";
            using var child = Process.Start(psi)!;
            child.WaitForExit();
            Environment.ExitCode = child.ExitCode;
            return;
        }
        LlamaRunner.Isa = isa;
        Console.Error.WriteLine($"compare: class {isa} (Eurus.Cpu: AVX-512BW {System.Runtime.Intrinsics.X86.Avx512BW.IsSupported}, AVX-VNNI {System.Runtime.Intrinsics.X86.AvxVnni.IsSupported}, AVX2 {System.Runtime.Intrinsics.X86.Avx2.IsSupported}, GFNI {System.Runtime.Intrinsics.X86.Gfni.IsSupported}; llama.cpp: {LlamaRunner.Level(isa)?.ToString() ?? "its best variant"})");
        string path = Arg("-m", "");
        int pp = int.Parse(Arg("-p", "128")), tg = int.Parse(Arg("-n", "32")), threads = int.Parse(Arg("-t", "2")), reps = int.Parse(Arg("-r", "3"));
        string which = Arg("--only", "both");
        bool sequential = args.Contains("--sequential");
        bool profile = args.Contains("--profile");
        if (!File.Exists(path)) { Console.Error.WriteLine("compare: -m FILE is required"); return; }
        var rng = new Random(1);
        // Both engines loaded at once and their rounds alternated (Eurus, llama, llama, Eurus, …), so a machine whose
        // speed drifts over minutes (shared cloud cores) biases neither side; --sequential runs one engine after the
        // other, for files too large to hold twice.
        var kernelProfile = profile ? new Eurus.Cpu.Kernels.KernelProfile() : null;
        // --theirs-first: llama.cpp is loaded before Eurus.Cpu. With two Eurus.Cpu engines (--ab) the
        // one loaded second measured 5–7% faster in decode whichever switch it had (memory placement of the repacks), so
        // a difference worth reporting must hold in both load orders.
        bool theirsFirst = args.Contains("--theirs-first");
        string ab = Arg("--ab", "");
        IRunner? early = null;
        if (theirsFirst && !sequential && ab.Length == 0 && which == "both") early = new LlamaRunner(path, pp, tg, threads);
        if (theirsFirst && ab.Length > 0) { Console.Error.WriteLine("compare: for --ab, swap the load order by swapping the switch's values"); return; }
        using var ours = which is "both" or "eurus" ? new EurusRunner(path, pp, tg, threads, rng, kernelProfile) : null;
        IRunner? theirs;
        if (early is not null) theirs = early;
        else if (ab.Length > 0)
        {
            // Eurus.Cpu against itself with one switch changed (the runner reads the switches when it loads).
            int eq = ab.IndexOf('=');
            if (eq <= 0) { Console.Error.WriteLine("compare: --ab takes NAME=VALUE"); return; }
            Environment.SetEnvironmentVariable(ab[..eq], ab[(eq + 1)..]);
            theirs = new EurusRunner(path, pp, tg, threads, new Random(1), null);
            Console.Error.WriteLine($"compare: the llama.cpp column is Eurus.Cpu with {ab}");
        }
        else theirs = which is "both" or "llama" ? (sequential && ours is not null ? null : new LlamaRunner(path, pp, tg, threads)) : null;
        using var theirsScope = theirs;
        var op = new List<double>(); var ot = new List<double>(); var lp = new List<double>(); var lt = new List<double>();
        ours?.Round(); // warm-up rounds
        theirs?.Round();
        if (profile && ours is not null)
        {
            // Where Eurus.Cpu's time goes, prompt and decode: matmuls by weight type, activation preparation, the rest.
            Profile(kernelProfile!, $"pp{pp}", ours.Prompt);
            Profile(kernelProfile!, $"tg{tg}", () => ours.Decode());
        }
        for (int r = 0; r < reps; r++)
        {
            if (r % 2 == 1 && theirs is not null) Add(theirs.Round(), lp, lt);
            if (ours is not null) Add(ours.Round(), op, ot);
            if (r % 2 == 0 && theirs is not null) Add(theirs.Round(), lp, lt);
        }
        if (sequential && which == "both")
        {
            ours!.Dispose();
            using var late = new LlamaRunner(path, pp, tg, threads);
            late.Round();
            for (int r = 0; r < reps; r++) Add(late.Round(), lp, lt);
        }
        // Every round's rates on stderr (in run order per engine), to tell a slow phase from a steady difference.
        for (int r = 0; r < Math.Max(op.Count, lp.Count); r++)
            Console.Error.WriteLine($"round {r + 1}: Eurus.Cpu {(r < op.Count ? $"pp {op[r]:F2} tg {ot[r]:F2}" : "-")}, llama.cpp {(r < lp.Count ? $"pp {lp[r]:F2} tg {lt[r]:F2}" : "-")}");
        Console.WriteLine($"| file | threads | test | Eurus.Cpu t/s | llama.cpp t/s | ratio |");
        Console.WriteLine($"|---|---|---|---|---|---|");
        for (int k = 0; k < 2; k++)
        {
            var o = k == 0 ? op : ot;
            var t = k == 0 ? lp : lt;
            string os = o.Count == 0 ? "-" : Fmt(o);
            string ts = t.Count == 0 ? "-" : Fmt(t);
            string ratio = o.Count == 0 || t.Count == 0 ? "-" : $"{o.Average() / t.Average():F2}×";
            Console.WriteLine($"| {Path.GetFileName(path)}{(isa == "native" ? "" : $" ({isa})")} | {threads} | {(k == 0 ? $"pp{pp}" : $"tg{tg}")} | {os} | {ts} | {ratio} |");
        }
    }

    private static void Add((double Pp, double Tg) r, List<double> pp, List<double> tg)
    {
        pp.Add(r.Pp);
        tg.Add(r.Tg);
    }

    private static string Fmt(List<double> x)
    {
        double m = x.Average();
        double sd = x.Count > 1 ? Math.Sqrt(x.Sum(v => (v - m) * (v - m)) / (x.Count - 1)) : 0;
        return $"{m:F2} ± {sd:F2}";
    }

    /// <summary>Runs <paramref name="work"/> with the kernel profile on and prints its time by matmul weight type.</summary>
    private static void Profile(Eurus.Cpu.Kernels.KernelProfile kernelProfile, string label, Action work)
    {
        kernelProfile.Clear();
        kernelProfile.Enabled = true;
        var sw = Stopwatch.StartNew();
        work();
        double total = sw.Elapsed.TotalSeconds;
        kernelProfile.Enabled = false;
        var ticks = kernelProfile.Ticks;
        double sum = 0;
        for (int i = 0; i < ticks.Length; i++)
        {
            if (ticks[i] == 0) continue;
            double sec = (double)ticks[i] / Stopwatch.Frequency;
            sum += sec;
            string name = i switch
            {
                Eurus.Cpu.Kernels.KernelProfile.PrepareIndex => "prepare activations",
                Eurus.Cpu.Kernels.KernelProfile.AttentionIndex => "attention",
                _ => $"matmul {(Eurus.Cpu.Gguf.GgmlType)i}",
            };
            Console.Error.WriteLine($"profile {label}: {name}: {sec * 1000:F0} ms ({sec / total:P0})");
        }
        Console.Error.WriteLine($"profile {label}: everything else: {(total - sum) * 1000:F0} ms ({(total - sum) / total:P0}) of {total * 1000:F0} ms");
    }

    /// <summary>One round: a pp-token prompt from an empty context, then tg single-token steps; rates in tokens/s.</summary>
    private interface IRunner : IDisposable
    {
        /// <summary>One round's prompt and decode rates, tokens/s.</summary>
        (double, double) Round();
    }

    private sealed class EurusRunner : IRunner
    {
        private readonly EurusModel _model;
        private readonly InferenceSession _session;
        private readonly int[] _prompt;
        private readonly int _tg;

        public EurusRunner(string path, int pp, int tg, int threads, Random rng, Eurus.Cpu.Kernels.KernelProfile? profile)
        {
            var sw = Stopwatch.StartNew();
            var kernels = Eurus.Cpu.Kernels.KernelOptions.Default with
            {
                Profile = profile,
                // EURUS_TOKEN_BLOCK compares matmul token chunk sizes (benchmarks only; the library reads no environment).
                TokenBlock = int.TryParse(Environment.GetEnvironmentVariable("EURUS_TOKEN_BLOCK"), out int tb) && tb >= 4 ? tb : 64,
                // EURUS_VNNI=0 / EURUS_MADD=0 / EURUS_AVX512_TILES=0 switch a kernel family off, EURUS_Q6K_COMPACT=0 the compact Q6_K repack off for this model (benchmarks only).
                Vnni = Environment.GetEnvironmentVariable("EURUS_VNNI") != "0",
                MaddTiles = Environment.GetEnvironmentVariable("EURUS_MADD") != "0",
                Avx512Tiles = Environment.GetEnvironmentVariable("EURUS_AVX512_TILES") != "0",
                CompactQ6K = Environment.GetEnvironmentVariable("EURUS_Q6K_COMPACT") != "0",
                // EURUS_FAR_PREFETCH=0: long rows' decode prefetch near into L1 as for short rows (benchmarks only).
                FarPrefetch = Environment.GetEnvironmentVariable("EURUS_FAR_PREFETCH") != "0",
            };
            // EURUS_KV_F32=1: an F32 KV cache instead of the default F16 (benchmarks only).
            var kvType = Environment.GetEnvironmentVariable("EURUS_KV_F32") == "1" ? Eurus.Cpu.Model.KvCacheType.F32 : Eurus.Cpu.Model.KvCacheType.F16;
            _model = EurusModel.Load(path, new ModelOptions { Threads = threads, ContextLength = pp + tg + 8, BatchSize = pp, Kernels = kernels, KvCacheType = kvType });
            Console.Error.WriteLine($"Eurus.Cpu: loaded in {sw.Elapsed.TotalSeconds:F1} s");
            _prompt = Enumerable.Range(0, pp).Select(i => i == 0 ? 1 : rng.Next(3, _model.Config.Vocab)).ToArray();
            _session = _model.CreateSession();
            _tg = tg;
        }

        public void Prompt()
        {
            _session.Reset();
            _session.Evaluate(_prompt);
        }

        /// <summary>tg single-token steps after a one-token context; returns the steps' seconds.</summary>
        public double Decode()
        {
            _session.Reset();
            _session.Evaluate([1]);
            var one = new int[1];
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < _tg; i++) { one[0] = 3 + i; _session.Evaluate(one); }
            return sw.Elapsed.TotalSeconds;
        }

        public (double, double) Round()
        {
            var sw = Stopwatch.StartNew();
            Prompt();
            double ppRate = _prompt.Length / sw.Elapsed.TotalSeconds;
            return (ppRate, _tg / Decode());
        }

        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _session.Dispose();
            _model.Dispose();
        }
    }

    private sealed class LlamaRunner : IRunner
    {
        private readonly LLamaWeights _model;
        private readonly LLamaContext _ctx;
        private readonly LLamaBatch _batch = new();
        private readonly int _pp, _tg;

        /// <summary>The CPU class whose native build to load (set before the first runner).</summary>
        public static string Isa { get; set; } = "native";

        /// <summary>LLamaSharp's native variant for a class; null: its own choice (the best this CPU runs).</summary>
        public static AvxLevel? Level(string isa) => isa switch { "avx2" => AvxLevel.Avx2, "avx512" or "vnni" => AvxLevel.Avx512, _ => null };

        public LlamaRunner(string path, int pp, int tg, int threads)
        {
            var config = NativeLibraryConfig.All.WithCuda(false).WithVulkan(false).WithLogCallback((level, msg) => { });
            if (Level(Isa) is { } level) config.WithAvx(level);
            NativeApi.llama_empty_call();
            NativeLogConfig.llama_log_set((level, msg) => { });
            var p = new ModelParams(path)
            {
                GpuLayerCount = 0, ContextSize = (uint)(pp + tg + 8), BatchSize = (uint)pp, UBatchSize = (uint)pp, SeqMax = 1,
                Threads = threads, BatchThreads = threads, FlashAttention = false,
            };
            var sw = Stopwatch.StartNew();
            _model = LLamaWeights.LoadFromFile(p);
            _ctx = _model.CreateContext(p);
            Console.Error.WriteLine($"llama.cpp: loaded in {sw.Elapsed.TotalSeconds:F1} s");
            (_pp, _tg) = (pp, tg);
        }

        public (double, double) Round()
        {
            _ctx.NativeHandle.MemoryClear(true);
            _batch.Clear();
            for (int i = 0; i < _pp; i++) _batch.Add(i == 0 ? 1 : 3 + i % 1000, i, (LLamaSeqId)0, i == _pp - 1);
            var sw = Stopwatch.StartNew();
            if (_ctx.Decode(_batch) != DecodeResult.Ok) throw new InvalidOperationException("llama.cpp decode failed");
            double ppRate = _pp / sw.Elapsed.TotalSeconds;
            _ctx.NativeHandle.MemoryClear(true);
            _batch.Clear();
            _batch.Add(1, 0, (LLamaSeqId)0, true);
            _ctx.Decode(_batch);
            sw.Restart();
            for (int i = 0; i < _tg; i++)
            {
                _batch.Clear();
                _batch.Add(3 + i, i + 1, (LLamaSeqId)0, true);
                if (_ctx.Decode(_batch) != DecodeResult.Ok) throw new InvalidOperationException("llama.cpp decode failed");
            }
            return (ppRate, _tg / sw.Elapsed.TotalSeconds);
        }

        public void Dispose()
        {
            _ctx.Dispose();
            _model.Dispose();
        }
    }
}
