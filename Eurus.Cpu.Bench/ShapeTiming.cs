using System.Diagnostics;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Bench;

/// <summary>
/// One-token multiplies (decode) of two matrices of one type with the same bytes but different row lengths, timed in
/// alternated rounds in one process (run: <c>shapes [q4_k|q6_k|q4_0|q5_k] [threads] [rows×cols …]</c>; default
/// 57344×4096 against 16384×14336 — ffn_down's row length — both far larger than the L3): min and median ms per
/// multiply and weight GB/s. A shared, drifting machine biases neither shape.
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
        var options = KernelOptions.Default with { CompactQ6K = Environment.GetEnvironmentVariable("EURUS_Q6K_COMPACT") == "1" };
        var matrices = shapes.Select(s => Matrix.Make(type, s.Rows, s.Cols, options)).ToArray();
        try
        {
            int maxCols = shapes.Max(s => s.Cols);
            var x = GC.AllocateArray<float>(maxCols, pinned: true);
            for (int i = 0; i < x.Length; i++) x[i] = (float)Math.Sin(i);
            using var mm = new MatMul(1, maxCols, threads, false, false, options);
            var times = shapes.Select(_ => new List<double>()).ToArray();
            for (int round = 0; round < 12; round++)
                for (int m = 0; m < matrices.Length; m++)
                {
                    var w = matrices[m].Weights;
                    var y = new float[w.Rows];
                    var xs = x.AsSpan(0, w.Cols);
                    mm.Multiply(w, xs, 1, y);
                    var sw = Stopwatch.StartNew();
                    const int reps = 10;
                    for (int i = 0; i < reps; i++) mm.Multiply(w, xs, 1, y, sameInput: i > 0);
                    times[m].Add(sw.Elapsed.TotalMilliseconds / reps);
                }
            for (int m = 0; m < matrices.Length; m++)
            {
                var t = times[m].Order().ToArray();
                double bytes = matrices[m].Bytes;
                Console.WriteLine($"{type} {shapes[m].Rows}x{shapes[m].Cols} threads {threads} tokens 1: min {t[0]:F2} ms ({bytes / t[0] / 1e6:F1} GB/s), median {t[t.Length / 2]:F2} ms ({bytes / t[t.Length / 2] / 1e6:F1} GB/s)");
            }
        }
        finally
        {
            foreach (var m in matrices) m.Dispose();
        }
    }

    /// <summary>A matrix of random rows (64 quantized, repeated), repacked as a model load repacks it on this CPU.</summary>
    private sealed class Matrix : IDisposable
    {
        private byte[] _data = [];
        private IDisposable? _packed;
        public WeightMatrix Weights { get; private set; }
        /// <summary>The bytes a multiply reads: the repack's where there is one, else the file's.</summary>
        public long Bytes { get; private set; }

        public static Matrix Make(GgmlType type, int rows, int cols, KernelOptions options)
        {
            var m = new Matrix();
            long rowBytes = GgmlTypeInfo.RowBytes(type, cols);
            m._data = GC.AllocateArray<byte>(checked((int)(rowBytes * rows)), pinned: true);
            var rng = new Random(1);
            var rowF = new float[cols];
            for (int r = 0; r < 64; r++)
            {
                for (int i = 0; i < cols; i++) rowF[i] = (float)(rng.NextDouble() * 2 - 1);
                RowCodec.Encode(type, rowF, m._data.AsSpan((int)(r * rowBytes), (int)rowBytes));
            }
            for (int r = 64; r < rows; r++) m._data.AsSpan((int)(r % 64 * rowBytes), (int)rowBytes).CopyTo(m._data.AsSpan((int)(r * rowBytes)));
            fixed (byte* p = m._data)
            {
                var packed = type is GgmlType.Q4_0 or GgmlType.Q8_0 ? PackedMatrix.FromBlocks(type, rows, cols, m._data, type == GgmlType.Q4_0 ? options.InterleaveQ4 : options.InterleaveQ8) : null;
                var qmk = type is GgmlType.Q4_K or GgmlType.Q5_K && options.RepackKQuants ? QmKPacked.FromBlocks(type, rows, cols, m._data) : null;
                var q6k = type is GgmlType.Q6_K && options.RepackKQuants ? Q6KPacked.FromBlocks(rows, cols, m._data, options.UseCompactQ6K) : null;
                m._packed = (IDisposable?)packed ?? (IDisposable?)qmk ?? q6k;
                m.Bytes = packed?.Bytes ?? qmk?.Bytes ?? q6k?.Bytes ?? m._data.Length;
                m.Weights = new WeightMatrix(p, type, rows, cols, packed, qmk, q6k);
            }
            if (m._packed is not null) m._data = []; // the kernels read the repack only
            return m;
        }

        public void Dispose() => _packed?.Dispose();
    }
}
