using System.Diagnostics;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Bench;

/// <summary>
/// Stopwatch timing of the K-quant matrix-vector products next to Q4_0 on a 7B FFN-sized matrix, in one process
/// (run: <c>kquick</c>): ms per multiply and weight GB/s, for 1 and 2 threads, 1 and 32 tokens.
/// </summary>
internal static unsafe class KQuantKernelTiming
{
    public static void Run()
    {
        // KQUICK_ROWS / KQUICK_COLS: another shape (ffn_down is 4096 × 14336).
        int rows = int.TryParse(Environment.GetEnvironmentVariable("KQUICK_ROWS"), out int r0) ? r0 : 14336;
        int cols = int.TryParse(Environment.GetEnvironmentVariable("KQUICK_COLS"), out int c0) ? c0 : 4096;
        var x = GC.AllocateArray<float>(cols * 32, pinned: true); // pinned: KQUICK_SAME=1 passes sameInput (checked by address)
        for (int i = 0; i < x.Length; i++) x[i] = (float)Math.Sin(i);
        bool same = Environment.GetEnvironmentVariable("KQUICK_SAME") == "1";
        // The layouts a model load makes on this CPU (KernelOptions.Default; EURUS_Q6K_COMPACT=0: Q6_K as bytes).
        var options = KernelOptions.Default with { CompactQ6K = Environment.GetEnvironmentVariable("EURUS_Q6K_COMPACT") != "0" };
        if (Environment.GetEnvironmentVariable("EURUS_Q6K_COMPACT") == "ab")
        {
            CompareQ6KForms(rows, cols);
            return;
        }
        foreach (var type in new[] { GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K })
        {
            using var m = BenchMatrix.Make(type, rows, cols, options);
            var w = m.Weights;
            foreach (int threads in new[] { 1, 2 })
                foreach (int tokens in new[] { 1, 32 })
                {
                    using var mm = new MatMul(32, cols, threads, false, false);
                    var y = new float[rows * tokens];
                    mm.Multiply(w, x, tokens, y);
                    int reps = tokens == 1 ? 30 : 2;
                    var sw = Stopwatch.StartNew();
                    for (int i = 0; i < reps; i++) mm.Multiply(w, x, tokens, y, sameInput: same);
                    double s = sw.Elapsed.TotalSeconds / reps;
                    Console.WriteLine($"{type}{m.Label} {rows}x{cols} threads {threads} tokens {tokens}: {s * 1000:F2} ms, {m.FileBytes / s / 1e9:F1} GB/s weights, {2.0 * rows * cols * tokens / s / 1e9:F1} GOP/s");
                }
        }
    }

    /// <summary>
    /// EURUS_Q6K_COMPACT=ab: Q6_K in the byte form against the compact form, two threads, 1 and 64 tokens, rounds
    /// alternated in this process (best of five per form).
    /// </summary>
    private static void CompareQ6KForms(int rows, int cols)
    {
        using var bytes = BenchMatrix.Make(GgmlType.Q6_K, rows, cols, KernelOptions.Default with { CompactQ6K = false });
        using var compact = BenchMatrix.Make(GgmlType.Q6_K, rows, cols, KernelOptions.Default with { CompactQ6K = true });
        var x = GC.AllocateArray<float>(cols * 64, pinned: true);
        for (int i = 0; i < x.Length; i++) x[i] = (float)Math.Sin(i);
        using var mm = new MatMul(64, cols, 2, false, false);
        foreach (int tokens in new[] { 1, 64 })
        {
            var y = new float[rows * tokens];
            var best = new double[2];
            best[0] = best[1] = double.MaxValue;
            for (int round = 0; round < 10; round++)
            {
                var m = round % 2 == 0 ? bytes : compact;
                mm.Multiply(m.Weights, x, tokens, y);
                int reps = tokens == 1 ? 20 : 2;
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < reps; i++) mm.Multiply(m.Weights, x, tokens, y);
                best[round % 2] = Math.Min(best[round % 2], sw.Elapsed.TotalSeconds / reps);
            }
            Console.WriteLine($"Q6_K {rows}x{cols} threads 2 tokens {tokens}: bytes {best[0] * 1000:F2} ms, compact {best[1] * 1000:F2} ms (best of five, alternated)");
        }
    }
}
