using BenchmarkDotNet.Attributes;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Eurus.Cpu.Bench;

/// <summary>
/// One packed dot-product path (Q4_0·Q8_0 or Q8_0·Q8_0) over 64 rows of 4096 columns held in L2: the kernel's compute
/// speed without memory stalls. A path this machine lacks fails its case with a message (never skipped silently).
/// Run: <c>dotnet run -c Release --project Eurus.Cpu.Bench -- --filter *PackedDotBenchmarks* --job short</c>.
/// </summary>
[Config(typeof(ThroughputConfig))]
public unsafe class PackedDotBenchmarks : IThroughputBenchmark
{
    private const int Rows = 64, Cols = 4096;
    private PackedMatrix? _w;
    private PackedActivations? _x;

    [Params(GgmlType.Q4_0, GgmlType.Q8_0)] public GgmlType Type { get; set; }

    [Params("vnni", "avx512", "avx2", "v128", "scalar")] public string Path { get; set; } = "scalar";

    public (double Bytes, double Ops) Work() => (Rows * GgmlTypeInfo.RowBytes(Type, Cols), 2.0 * Rows * Cols);

    [GlobalSetup]
    public void Setup()
    {
        bool supported = Path switch
        {
            "vnni" => AvxVnni.IsSupported,
            "avx512" => Avx512BW.IsSupported,
            "avx2" => Avx2.IsSupported && Fma.IsSupported,
            "v128" => Vector128.IsHardwareAccelerated,
            _ => true,
        };
        if (!supported) throw new NotSupportedException($"The {Path} path is not available on this machine.");
        var rng = new Random(1);
        var wf = Enumerable.Range(0, Rows * Cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        _w = PackedMatrix.FromBlocks(Type, Rows, Cols, Type == GgmlType.Q4_0 ? QuantReference.QuantizeQ4_0(wf) : QuantReference.QuantizeQ8_0(wf),
            interleaved: Path == "vnni");
        _x = new PackedActivations(1, Cols);
        _x.Prepare(wf.AsSpan(0, Cols), 1, Cols, forQ4: true, forQ8: true, forVnni: true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _w?.Dispose();
        _x?.Dispose();
    }

    [Benchmark]
    public float Dot()
    {
        var x = _x!.For(0);
        var w = _w!;
        float sum = 0;
        const int blocks = Cols / 32;
        for (int r = 0; r < Rows; r++)
        {
            ushort* s = w.RowScales(r);
            byte* q = w.RowQs(r);
            sum += (Type, Path) switch
            {
                (GgmlType.Q4_0, "vnni") => VnniDot.Q4<VnniByteDot>(s, q, blocks, x),
                (_, "vnni") => VnniDot.Q8<VnniByteDot>(s, q, blocks, x),
                (GgmlType.Q4_0, "avx512") => PackedDot.Q4Avx512(s, q, blocks, x),
                (GgmlType.Q4_0, "avx2") => PackedDot.Q4Avx2(s, q, blocks, x),
                (GgmlType.Q4_0, "v128") => PackedDot.Q4V128(s, q, blocks, x),
                (GgmlType.Q4_0, _) => PackedDot.Q4Scalar(s, q, blocks, x, 0),
                (_, "avx512") => PackedDot.Q8Avx512(s, (sbyte*)q, blocks, x),
                (_, "avx2") => PackedDot.Q8Avx2(s, (sbyte*)q, blocks, x),
                (_, "v128") => PackedDot.Q8V128(s, (sbyte*)q, blocks, x),
                _ => PackedDot.Q8Scalar(s, (sbyte*)q, blocks, x, 0),
            };
        }
        return sum;
    }
}

/// <summary>
/// The whole matmul on a 4096×4096 matrix (larger than L2: decode reads it from memory each time) for one token
/// (decode) and 32 tokens (prefill tiles), on 1 and 2 threads, per weight type.
/// Run: <c>dotnet run -c Release --project Eurus.Cpu.Bench -- --filter *MatMulBenchmarks* --job short</c>.
/// </summary>
[Config(typeof(ThroughputConfig))]
public unsafe class MatMulBenchmarks : IThroughputBenchmark
{
    private const int Rows = 4096, Cols = 4096;
    private byte[] _data = [];
    private PackedMatrix? _packed;
    private MatMul? _mm;
    private float[] _x = [], _y = [];

    [Params(GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.F16)] public GgmlType Type { get; set; }

    [Params(1, 32)] public int Tokens { get; set; }

    [Params(1, 2)] public int Threads { get; set; }

    public (double Bytes, double Ops) Work() => ((double)Rows * GgmlTypeInfo.RowBytes(Type, Cols), 2.0 * Rows * Cols * Tokens);

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        int rowBytes = (int)GgmlTypeInfo.RowBytes(Type, Cols);
        _data = GC.AllocateArray<byte>(rowBytes * Rows, pinned: true);
        var row = new float[Cols];
        for (int r = 0; r < Rows; r++)
        {
            for (int i = 0; i < Cols; i++) row[i] = (float)(rng.NextDouble() * 2 - 1);
            RowCodec.Encode(Type, row, _data.AsSpan(r * rowBytes, rowBytes));
        }
        _packed = Type is GgmlType.Q4_0 or GgmlType.Q8_0 ? PackedMatrix.FromBlocks(Type, Rows, Cols, _data) : null;
        _mm = new MatMul(Tokens, Cols, Threads, needHalf: true, needBFloat: false);
        _x = Enumerable.Range(0, Tokens * Cols).Select(i => MathF.Sin(i)).ToArray();
        _y = new float[Tokens * Rows];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _packed?.Dispose();
        _mm?.Dispose();
    }

    [Benchmark]
    public void Multiply()
    {
        fixed (byte* p = _data)
            _mm!.Multiply(new WeightMatrix(p, Type, Rows, Cols, _packed), _x, Tokens, _y);
    }
}
