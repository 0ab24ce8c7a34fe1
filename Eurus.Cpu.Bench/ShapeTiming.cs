using System.Diagnostics;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Bench;

/// <summary>
/// One-token multiplies (decode) of two matrices of one type with the same bytes but different row lengths, timed in
/// alternated rounds in one process (run: <c>shapes [q4_k|q6_k|q4_0|q5_k] [threads] [rows×cols …]</c>; default
/// 57344×4096 against 16384×14336 — ffn_down's row length — both far larger than the L3): min and median ms per
/// multiply and weight GB/s. A shared, drifting machine biases neither shape. <c>EURUS_FAR_PREFETCH=ab</c>: each shape
/// also with the long rows' far prefetch off (<see cref="KernelOptions.FarPrefetch"/>), on the same matrices, rounds
/// alternated — no allocation-order bias between the two. <c>SHAPES_TOKENS=N</c>: N-token multiplies (a prompt's
/// tiles) instead of one-token ones.
/// </summary>
internal static unsafe class ShapeTiming
{
    public static void Run(string[] args)
    {
        var type = args.Length > 0 ? Enum.Parse<GgmlType>(args[0], ignoreCase: true) : GgmlType.Q4_K;
        int threads = args.Length > 1 ? int.Parse(args[1]) : 2;
        var shapes = args.Length > 2
            ? args[2..].Select(s => s.Split('x')).Select(p => (Rows: int.Parse(p[0]), Cols: int.Parse(p[1]))).ToArray()
            : [(57344, 4096), (16384, 14336)];
        var options = KernelOptions.Default with { CompactQ6K = Environment.GetEnvironmentVariable("EURUS_Q6K_COMPACT") != "0" };
        var matrices = shapes.Select(s => BenchMatrix.Make(type, s.Rows, s.Cols, options)).ToArray();
        try
        {
            int maxCols = shapes.Max(s => s.Cols);
            int tokens = int.TryParse(Environment.GetEnvironmentVariable("SHAPES_TOKENS"), out int n) ? n : 1;
            var x = GC.AllocateArray<float>(maxCols * tokens, pinned: true);
            for (int i = 0; i < x.Length; i++) x[i] = (float)Math.Sin(i);
            bool ab = Environment.GetEnvironmentVariable("EURUS_FAR_PREFETCH") == "ab";
            var variants = ab ? new[] { ("far prefetch", options), ("near prefetch", options with { FarPrefetch = false }) } : [("", options)];
            var mms = variants.Select(v => new MatMul(tokens, maxCols, threads, false, false, v.Item2)).ToArray();
            var times = shapes.SelectMany(_ => variants.Select(_ => new List<double>())).ToArray();
            for (int round = 0; round < 12; round++)
                for (int m = 0; m < matrices.Length; m++)
                for (int v = 0; v < variants.Length; v++)
                {
                    var mm = mms[v];
                    var w = matrices[m].Weights;
                    var y = new float[(long)w.Rows * tokens];
                    var xs = x.AsSpan(0, w.Cols * tokens);
                    mm.Multiply(w, xs, tokens, y);
                    var sw = Stopwatch.StartNew();
                    int reps = tokens == 1 ? 10 : 2;
                    for (int i = 0; i < reps; i++) mm.Multiply(w, xs, tokens, y, sameInput: i > 0);
                    times[m * variants.Length + v].Add(sw.Elapsed.TotalMilliseconds / reps);
                }
            foreach (var mm in mms) mm.Dispose();
            for (int m = 0; m < matrices.Length; m++)
            for (int v = 0; v < variants.Length; v++)
            {
                var t = times[m * variants.Length + v].Order().ToArray();
                double bytes = matrices[m].Bytes;
                Console.WriteLine($"{type} {shapes[m].Rows}x{shapes[m].Cols}{(ab ? " " + variants[v].Item1 : "")} threads {threads} tokens {tokens}: min {t[0]:F2} ms ({bytes / t[0] / 1e6:F1} GB/s), median {t[t.Length / 2]:F2} ms ({bytes / t[t.Length / 2] / 1e6:F1} GB/s)");
            }
        }
        finally
        {
            foreach (var m in matrices) m.Dispose();
        }
    }
}
