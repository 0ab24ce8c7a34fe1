using System.Diagnostics;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Bench;

/// <summary>Stopwatch timing of the matrix-vector kernels on a 7B-sized FFN matrix (run: <c>quick</c>).</summary>
internal static unsafe class QuickKernelTiming
{
    public static void Run()
    {
        if (Environment.GetEnvironmentVariable("QUICK_PREPARE") is not null)
        {
            using var acts = new PackedActivations(64, 14336);
            var xs = Enumerable.Range(0, 64 * 14336).Select(i => (float)Math.Sin(i)).ToArray();
            foreach (int c in new[] { 4096, 14336 })
                foreach (var (q4, q8) in new[] { (true, false), (false, true) })
                {
                    acts.Prepare(xs, 64, c, q4, q8);
                    var sw = Stopwatch.StartNew();
                    for (int i = 0; i < 10; i++) acts.Prepare(xs, 64, c, q4, q8);
                    Console.WriteLine($"prepare 64 x {c} (q4 {q4}): {sw.Elapsed.TotalMilliseconds / 10:F2} ms");
                }
            return;
        }
        if (Environment.GetEnvironmentVariable("QUICK_ROWS") is null)
        {
            Calibrate();
            Paths();
        }
        int rows = Environment.GetEnvironmentVariable("QUICK_ROWS") is { } qr ? int.Parse(qr) : 14336;
        const int cols = 4096;
        foreach (var type in new[] { GgmlType.Q4_0, GgmlType.Q8_0 })
        {
            long rowBytes = GgmlTypeInfo.RowBytes(type, cols);
            var data = GC.AllocateArray<byte>((int)(rowBytes * rows), pinned: true);
            var rng = new Random(1);
            var row = new float[cols];
            for (int r = 0; r < rows; r++)
            {
                for (int i = 0; i < cols; i++) row[i] = (float)(rng.NextDouble() * 2 - 1);
                RowCodec.Encode(type, row, data.AsSpan((int)(r * rowBytes), (int)rowBytes));
            }
            var x = Enumerable.Range(0, cols * 32).Select(i => (float)Math.Sin(i)).ToArray();
            fixed (byte* p = data)
            foreach (bool interleaved in (type == GgmlType.Q4_0 ? KernelOptions.Default.InterleaveQ4 : KernelOptions.Default.InterleaveQ8) ? new[] { true, false } : [false])
            {
                using var packed = PackedMatrix.FromBlocks(type, rows, cols, data, interleaved);
                var w = new WeightMatrix(p, type, rows, cols, packed);
                if (interleaved && Environment.GetEnvironmentVariable("QUICK_DIRECT") is not null)
                {
                    using var acts = new PackedActivations(32, cols);
                    acts.Prepare(x, 32, cols, false, false, forVnni: true);
                    var yd = new float[rows * 32];
                    int blocks = cols / 32;
                    fixed (float* py = yd)
                        for (int rep = 0; rep < 3; rep++)
                        {
                            var sw = Stopwatch.StartNew();
                            for (int r0 = 0; r0 < rows; r0 += 32)
                                for (int t = 0; t < 32; t += 4)
                                    for (int r = r0; r < r0 + 32; r += 2)
                                        if (type == GgmlType.Q4_0 && VnniDot.Supported)
                                            VnniDot.Q4Tile2x4<VnniByteDot>(packed.RowScales(r), packed.RowQs(r), packed.RowScales(r + 1), packed.RowQs(r + 1), blocks, acts, t, py + (long)t * rows + r, rows);
                                        else if (type == GgmlType.Q4_0)
                                            VnniDot.Q4Tile2x4<MaddByteDot>(packed.RowScales(r), packed.RowQs(r), packed.RowScales(r + 1), packed.RowQs(r + 1), blocks, acts, t, py + (long)t * rows + r, rows);
                                        else if (VnniDot.Supported)
                                            VnniDot.Q8Tile2x4<VnniByteDot>(packed.RowScales(r), packed.RowQs(r), packed.RowScales(r + 1), packed.RowQs(r + 1), blocks, acts, t, py + (long)t * rows + r, rows);
                                        else
                                            VnniDot.Q8Tile2x4<MaddByteDot>(packed.RowScales(r), packed.RowQs(r), packed.RowScales(r + 1), packed.RowQs(r + 1), blocks, acts, t, py + (long)t * rows + r, rows);
                            double s = sw.Elapsed.TotalSeconds;
                            Console.WriteLine($"{type} direct vnni tile, 32 tokens: {s * 1000:F2} ms, {2.0 * rows * cols * 32 / s / 1e9:F1} GOP/s");
                            sw.Restart();
                            var x0 = acts.For(0);
                            float sink = 0;
                            for (int r = 0; r < rows; r++)
                                sink += (type == GgmlType.Q4_0, VnniDot.Supported) switch
                                {
                                    (true, true) => VnniDot.Q4<VnniByteDot>(packed.RowScales(r), packed.RowQs(r), blocks, x0),
                                    (true, false) => VnniDot.Q4<MaddByteDot>(packed.RowScales(r), packed.RowQs(r), blocks, x0),
                                    (false, true) => VnniDot.Q8<VnniByteDot>(packed.RowScales(r), packed.RowQs(r), blocks, x0),
                                    (false, false) => VnniDot.Q8<MaddByteDot>(packed.RowScales(r), packed.RowQs(r), blocks, x0),
                                };
                            s = sw.Elapsed.TotalSeconds;
                            Console.WriteLine($"{type} direct vnni row, 1 token: {s * 1000:F2} ms, {2.0 * rows * cols / s / 1e9:F1} GOP/s {sink:E1}");
                        }
                }
                foreach (int threads in new[] { 1, 2 })
                    foreach (int tokenArg in new[] { 1, 32, -32 })
                    {
                        if (tokenArg < 0 && (type != GgmlType.Q4_0 || interleaved)) continue;
                        // The kernel is chosen when the matrix is made: remake it with the AVX-512 tiles off or on.
                        w = new WeightMatrix(w.Data, w.Type, w.Rows, w.Cols, w.Packed, kernels: KernelOptions.Default with { Avx512Tiles = tokenArg > 0 });
                        string label = (interleaved ? (VnniDot.Supported ? "vnni " : "madd ") : "") + (tokenArg < 0 ? "32 (no tile)" : tokenArg.ToString());
                        int tokens = Math.Abs(tokenArg);
                        var mm = new MatMul(32, cols, threads, false, false);
                        var y = new float[rows * tokens];
                        mm.Multiply(w, x, tokens, y);
                        int reps = tokens == 1 ? Math.Max(3, 50 * 14336 / rows) : 2;
                        var sw = Stopwatch.StartNew();
                        for (int i = 0; i < reps; i++) mm.Multiply(w, x, tokens, y);
                        double s = sw.Elapsed.TotalSeconds / reps;
                        Console.WriteLine($"{type} {rows}x{cols} threads {threads} tokens {label}: {s * 1000:F2} ms, {data.Length / s / 1e9:F1} GB/s weights, {2.0 * rows * cols * tokens / s / 1e9:F1} GOP/s");
                    }
            }
        }
    }

    private static void Calibrate()
    {
        var a = Enumerable.Range(0, 4096).Select(i => (float)i).ToArray();
        var b = Enumerable.Range(0, 4096).Select(i => 1f / (i + 1)).ToArray();
        float sink = 0;
        for (int i = 0; i < 10000; i++) sink += System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 200000; i++) sink += System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
        Console.WriteLine($"calibration: TensorPrimitives.Dot 4096 floats: {sw.Elapsed.TotalNanoseconds / 200000:F0} ns ({sink:E1})");
    }

    private delegate float Path(ushort* s, byte* q, int blocks, in PackedActivations.Token x);

    /// <summary>Each packed dot path on rows held in L1/L2: ns per block.</summary>
    private static void Paths()
    {
        const int cols = 4096, blocks = cols / 32, rows = 16;
        var rng = new Random(2);
        var wf = Enumerable.Range(0, cols * rows).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        using var p4 = PackedMatrix.FromBlocks(GgmlType.Q4_0, rows, cols, QuantReference.QuantizeQ4_0(wf), interleaved: false);
        using var p8 = PackedMatrix.FromBlocks(GgmlType.Q8_0, rows, cols, QuantReference.QuantizeQ8_0(wf), interleaved: false);
        using var v4 = PackedMatrix.FromBlocks(GgmlType.Q4_0, rows, cols, QuantReference.QuantizeQ4_0(wf), interleaved: true);
        using var v8 = PackedMatrix.FromBlocks(GgmlType.Q8_0, rows, cols, QuantReference.QuantizeQ8_0(wf), interleaved: true);
        using var acts = new PackedActivations(1, cols);
        acts.Prepare(wf.AsSpan(0, cols), 1, cols, true, true, forVnni: true);
        var x = acts.For(0);
        var list = new (string, PackedMatrix, int, Path)[]
        {
            ("q4 vnni", v4, 18, (s, q, n, in t) => VnniDot.Q4<VnniByteDot>(s, q, n, t)),
            ("q4 madd", v4, 18, (s, q, n, in t) => VnniDot.Q4<MaddByteDot>(s, q, n, t)),
            ("q8 vnni", v8, 34, (s, q, n, in t) => VnniDot.Q8<VnniByteDot>(s, q, n, t)),
            ("q4 avx512", p4, 18, (s, q, n, in t) => PackedDot.Q4Avx512(s, q, n, t)),
            ("q4 avx2", p4, 18, (s, q, n, in t) => PackedDot.Q4Avx2(s, q, n, t)),
            ("q4 v128", p4, 18, (s, q, n, in t) => PackedDot.Q4V128(s, q, n, t)),
            ("q4 scalar", p4, 18, (s, q, n, in t) => PackedDot.Q4Scalar(s, q, n, t, 0)),
            ("q8 avx512", p8, 34, (s, q, n, in t) => PackedDot.Q8Avx512(s, (sbyte*)q, n, t)),
            ("q8 avx2", p8, 34, (s, q, n, in t) => PackedDot.Q8Avx2(s, (sbyte*)q, n, t)),
            ("q8 v128", p8, 34, (s, q, n, in t) => PackedDot.Q8V128(s, (sbyte*)q, n, t)),
        };
        foreach (var (name, m, bytes, f) in list)
        {
            if (name.Contains("vnni") && !VnniDot.Supported) continue;
            float sink = 0;
            for (int i = 0; i < 20000; i++) sink += f(m.RowScales(i % rows), m.RowQs(i % rows), blocks, x);
            var sw = Stopwatch.StartNew();
            int n = 200000;
            for (int i = 0; i < n; i++) sink += f(m.RowScales(i % rows), m.RowQs(i % rows), blocks, x);
            double ns = sw.Elapsed.TotalNanoseconds / n / blocks;
            Console.WriteLine($"{name}: {ns:F2} ns/block ({bytes / ns:F1} GB/s) {sink:E1}");
        }
    }
}
