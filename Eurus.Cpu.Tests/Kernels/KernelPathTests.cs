using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;
using Xunit.Abstractions;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>
/// Every SIMD path of the packed dot-product kernels against the scalar reference (<see cref="VecDotReference"/>, on
/// the file's block layout), over many lengths. The suite re-runs this class in child processes with AVX-512, AVX2 and
/// all hardware intrinsics switched off (<see cref="KernelIsaChildProcessTests"/>);
/// <see cref="ActivePathsMatchTheEnvironment"/> proves which paths ran there.
/// </summary>
public unsafe class KernelPathTests(ITestOutputHelper output)
{
    // Block counts: multiples of the 4- and 8-block SIMD steps, and ±1 around them (scalar tails).
    public static readonly int[] BlockCounts = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 127, 128, 129, 448];

    private delegate float Path(ushort* s, byte* q, int blocks, in PackedActivations.Token x);

    /// <summary>Every SIMD path of the kernels, widest first, and whether this process runs it (shared by the kernel tests and the ARM64 self-check).</summary>
    internal static (string Name, bool Supported)[] Paths() =>
    [
        ("vnni", AvxVnni.IsSupported),
        ("avx512", Avx512BW.IsSupported),
        ("avx2", Avx2.IsSupported && Fma.IsSupported),
        ("madd", MaddByteDot.IsSupported),
        ("dp", System.Runtime.Intrinsics.Arm.Dp.IsSupported),
        ("v128", Vector128.IsHardwareAccelerated),
        ("scalar", true),
    ];

    private static readonly Dictionary<string, Path> Q4Paths = new()
    {
        ["avx512"] = (s, q, n, in x) => PackedDot.Q4Avx512(s, q, n, x),
        ["avx2"] = (s, q, n, in x) => PackedDot.Q4Avx2(s, q, n, x),
        ["v128"] = (s, q, n, in x) => PackedDot.Q4V128(s, q, n, x),
        ["dp"] = (s, q, n, in x) => PackedDot.Q4Dp(s, q, n, x),
        ["scalar"] = (s, q, n, in x) => PackedDot.Q4Scalar(s, q, n, x, 0),
        ["dispatch"] = (s, q, n, in x) => PackedDot.Q4(s, q, n, x),
        ["vnni"] = (s, q, n, in x) => VnniDot.Q4<VnniByteDot>(s, q, n, x),
        ["madd"] = (s, q, n, in x) => Same(VnniDot.Q4<MaddByteDot>(s, q, n, x), VnniDot.Q4<MaddByteDot>(s, q, n, x, far: true)),
        [EmulatedVnni] = (s, q, n, in x) => VnniDot.Q4<EmulatedVnniByteDot>(s, q, n, x),
    };

    private static readonly Dictionary<string, Path> Q8Paths = new()
    {
        ["avx512"] = (s, q, n, in x) => PackedDot.Q8Avx512(s, (sbyte*)q, n, x),
        ["avx2"] = (s, q, n, in x) => PackedDot.Q8Avx2(s, (sbyte*)q, n, x),
        ["v128"] = (s, q, n, in x) => PackedDot.Q8V128(s, (sbyte*)q, n, x),
        ["dp"] = (s, q, n, in x) => PackedDot.Q8Dp(s, (sbyte*)q, n, x),
        ["scalar"] = (s, q, n, in x) => PackedDot.Q8Scalar(s, (sbyte*)q, n, x, 0),
        ["dispatch"] = (s, q, n, in x) => PackedDot.Q8(s, (sbyte*)q, n, x),
        ["vnni"] = (s, q, n, in x) => VnniDot.Q8<VnniByteDot>(s, q, n, x),
        ["madd"] = (s, q, n, in x) => Same(VnniDot.Q8<MaddByteDot>(s, q, n, x), VnniDot.Q8<MaddByteDot>(s, q, n, x, far: true)),
        [EmulatedVnni] = (s, q, n, in x) => VnniDot.Q8<EmulatedVnniByteDot>(s, q, n, x),
    };

    /// <summary>
    /// The VNNI kernels over <see cref="EmulatedVnniByteDot"/> (VPDPBUSD in plain arithmetic): their +128 / −128·Σx
    /// arithmetic runs on every machine with AVX2 and FMA (their float steps use those), not only on AVX-VNNI CPUs.
    /// </summary>
    internal const string EmulatedVnni = "vnni (emulated)";

    /// <summary>The long rows' far prefetch (<see cref="MaddByteDot.PrefetchWeights"/>) is only a hint: both forms give one result.</summary>
    private static float Same(float near, float far)
    {
        Assert.Equal(near, far);
        return near;
    }

    /// <summary>n values in (−1, 1), a quarter of them times <paramref name="spread"/> (outliers that set block scales).</summary>
    internal static float[] Random(int n, int seed, float spread)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (rng.Next(4) == 0 ? spread : 1)).ToArray();
    }

    private void Check(GgmlType type, Dictionary<string, Path> paths)
    {
        foreach (int blocks in BlockCounts)
        {
            int cols = blocks * 32;
            var wf = Random(cols, blocks, 10);
            var xf = Random(cols, 1000 + blocks, 3);
            var file = type == GgmlType.Q4_0 ? QuantReference.QuantizeQ4_0(wf) : QuantReference.QuantizeQ8_0(wf);
            // Hostile files may hold −128 in Q8_0, which our quantizer never writes: put some in.
            if (type == GgmlType.Q8_0) for (int b = 0; b < blocks; b += 3) file[b * 34 + 2 + b % 32] = 0x80;
            var xBlocks = new BlockQ8_0[blocks];
            ActivationQuantizer.QuantizeQ8_0(xf, xBlocks);
            float reference = type == GgmlType.Q4_0
                ? VecDotReference.Q4_0(MemoryMarshal.Cast<byte, BlockQ4_0>(file), xBlocks)
                : VecDotReference.Q8_0(MemoryMarshal.Cast<byte, BlockQ8_0>(file), xBlocks);
            // Tolerance: float rounding of the per-block products, relative to Σ|terms|.
            float magnitude = 0;
            for (int i = 0; i < cols; i++) magnitude += MathF.Abs(wf[i] * xf[i]);
            // The VNNI kernels read the interleaved layout, the others the plain one.
            using var plain = PackedMatrix.FromBlocks(type, 1, cols, file, interleaved: false);
            using var interleaved = PackedMatrix.FromBlocks(type, 1, cols, file, interleaved: true);
            using var acts = new PackedActivations(1, cols);
            acts.Prepare(xf, 1, cols, forQ4: true, forQ8: true, forVnni: true);
            var token = acts.For(0);
            foreach (var (name, path) in paths)
            {
                if (Paths().Any(p => p.Name == name && !p.Supported)) continue; // reported below, run in the child processes
                if (name == EmulatedVnni && !MaddByteDot.IsSupported) continue; // reported below
                var packed = name is "vnni" or "madd" or EmulatedVnni ? interleaved : plain;
                float got = path(packed.RowScales(0), packed.RowQs(0), blocks, token);
                Assert.True(MathF.Abs(reference - got) <= 1e-5f * magnitude + 1e-5f,
                    $"{type} {name}, {blocks} blocks: reference {reference}, got {got}");
            }
        }
        Report();
    }

    [Fact]
    public void Q4_0PathsMatchTheReference() => Check(GgmlType.Q4_0, Q4Paths);

    [Fact]
    public void Q8_0PathsMatchTheReference() => Check(GgmlType.Q8_0, Q8Paths);

    /// <summary>
    /// The row-quad kernels (<see cref="QuadDot"/>: ARM64's by-element SDOT, "dp", and its portable form, "v128") against
    /// the reference for every row of a group, over the block counts; the four-token tile equals the one-token form bit
    /// for bit for each of its tokens.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    public void QuadPathsMatchTheReference(GgmlType type)
    {
        var paths = new (string Name, bool Sdot)[] { ("dp", true), ("v128", false) };
        foreach (int blocks in BlockCounts)
        {
            int cols = blocks * 32, rowBytes = (int)GgmlTypeInfo.RowBytes(type, cols);
            var file = new byte[4 * rowBytes];
            var xf = Random(4 * cols, 2000 + blocks, 3);
            var wf = new float[4][];
            for (int r = 0; r < 4; r++)
            {
                wf[r] = Random(cols, 100 * r + blocks, 10);
                (type == GgmlType.Q4_0 ? QuantReference.QuantizeQ4_0(wf[r]) : QuantReference.QuantizeQ8_0(wf[r])).CopyTo(file, r * rowBytes);
            }
            if (type == GgmlType.Q8_0) for (int b = 0; b < 4 * blocks; b += 3) file[b * 34 + 2 + b % 32] = 0x80;
            using var quads = PackedMatrix.FromBlocks(type, 4, cols, file, interleaved: false, quads: true);
            using var acts = new PackedActivations(4, cols);
            acts.Prepare(xf, 4, cols, forQ4: true, forQ8: true);
            var xBlocks = new BlockQ8_0[4][];
            for (int t = 0; t < 4; t++)
            {
                xBlocks[t] = new BlockQ8_0[blocks];
                ActivationQuantizer.QuantizeQ8_0(xf.AsSpan(t * cols, cols), xBlocks[t]);
            }
            foreach (var (name, sdot) in paths)
            {
                if (Paths().Any(p => p.Name == name && !p.Supported)) continue; // reported below, run in the child processes or under qemu
                var one = new float[16];
                var four = new float[16];
                fixed (float* y1 = one)
                fixed (float* y4 = four)
                {
                    for (int t = 0; t < 4; t++)
                        if (type == GgmlType.Q4_0)
                        {
                            if (sdot) QuadDot.X1<QuadDot.Q4Block, SdotByteDot128>(quads.GroupScales(0), quads.GroupQs(0), blocks, acts.For(t), y1 + 4 * t);
                            else QuadDot.X1<QuadDot.Q4Block, PortableByteDot128>(quads.GroupScales(0), quads.GroupQs(0), blocks, acts.For(t), y1 + 4 * t);
                        }
                        else
                        {
                            if (sdot) QuadDot.X1<QuadDot.Q8Block, SdotByteDot128>(quads.GroupScales(0), quads.GroupQs(0), blocks, acts.For(t), y1 + 4 * t);
                            else QuadDot.X1<QuadDot.Q8Block, PortableByteDot128>(quads.GroupScales(0), quads.GroupQs(0), blocks, acts.For(t), y1 + 4 * t);
                        }
                    if (type == GgmlType.Q4_0)
                    {
                        if (sdot) QuadDot.X4<QuadDot.Q4Block, SdotByteDot128>(quads.GroupScales(0), quads.GroupQs(0), blocks, acts, 0, y4, 4);
                        else QuadDot.X4<QuadDot.Q4Block, PortableByteDot128>(quads.GroupScales(0), quads.GroupQs(0), blocks, acts, 0, y4, 4);
                    }
                    else
                    {
                        if (sdot) QuadDot.X4<QuadDot.Q8Block, SdotByteDot128>(quads.GroupScales(0), quads.GroupQs(0), blocks, acts, 0, y4, 4);
                        else QuadDot.X4<QuadDot.Q8Block, PortableByteDot128>(quads.GroupScales(0), quads.GroupQs(0), blocks, acts, 0, y4, 4);
                    }
                }
                Assert.Equal(one, four);
                for (int t = 0; t < 4; t++)
                    for (int r = 0; r < 4; r++)
                    {
                        var row = file.AsSpan(r * rowBytes, rowBytes);
                        float reference = type == GgmlType.Q4_0
                            ? VecDotReference.Q4_0(MemoryMarshal.Cast<byte, BlockQ4_0>(row), xBlocks[t])
                            : VecDotReference.Q8_0(MemoryMarshal.Cast<byte, BlockQ8_0>(row), xBlocks[t]);
                        float got = one[4 * t + r];
                        // Tolerance: float rounding of the per-block products, relative to Σ|terms| (as in Check).
                        float magnitude = 0;
                        for (int i = 0; i < cols; i++) magnitude += MathF.Abs(wf[r][i] * xf[t * cols + i]);
                        Assert.True(MathF.Abs(reference - got) <= 1e-5f * magnitude + 1e-5f,
                            $"{type} quads {name}, {blocks} blocks, token {t} row {r}: reference {reference}, got {got}");
                    }
            }
        }
        Report();
    }

    /// <summary>
    /// The vector activation quantizers (256- and 128-bit) equal the scalar reference bit for bit (scale and every quant): 0–8 blocks,
    /// random values at several magnitudes, all-zero and subnormal blocks, exact ties (x·127/amax = k + ½, rounded to
    /// even), and blocks holding ±Inf or NaN (which take the scalar path).
    /// </summary>
    [Fact]
    public void VectorActivationQuantizerEqualsTheReference()
    {
        var rng = new Random(12);
        foreach (float magnitude in new[] { 1e-30f, 1e-3f, 1f, 37f, 1e30f })
            for (int blocks = 0; blocks <= 8; blocks++)
            {
                var x = new float[blocks * 32];
                for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * magnitude;
                if (blocks > 1) Array.Clear(x, 32, 32);                                        // an all-zero block
                if (blocks > 2) for (int i = 64; i < 96; i++) x[i] = (i - 80) * 0.5f;          // amax 7.5 → id 127/7.5: ties below
                if (blocks > 3) { for (int i = 96; i < 128; i++) x[i] = (i - 112) + 0.5f; x[100] = 127f; } // amax 127: id 1, x.5 ties to even
                if (blocks > 4) for (int i = 128; i < 160; i++) x[i] = float.Epsilon * (i - 140); // subnormals
                if (blocks > 5) x[170] = float.PositiveInfinity;
                if (blocks > 6) x[200] = float.NaN;
                if (blocks > 7) x[230] = float.NegativeInfinity;
                var reference = new BlockQ8_0[blocks];
                ActivationQuantizer.QuantizeQ8_0Scalar(x, reference);
                // Both widths, whatever this machine accelerates (the other runs in software; ISA child processes and
                // qemu run them in hardware), and the dispatching entry point.
                foreach (var (name, quantize) in new (string, Action<float[], BlockQ8_0[]>)[]
                {
                    ("256-bit", (a, q) => ActivationQuantizer.QuantizeQ8_0Vector(a, q)),
                    ("128-bit", (a, q) => ActivationQuantizer.QuantizeQ8_0Vector(a, q, wide: false)),
                    ("dispatch", (a, q) => ActivationQuantizer.QuantizeQ8_0(a, q)),
                })
                {
                    var vector = new BlockQ8_0[blocks];
                    quantize(x, vector);
                    for (int b = 0; b < blocks; b++)
                    {
                        Assert.True(BitConverter.HalfToUInt16Bits(reference[b].D) == BitConverter.HalfToUInt16Bits(vector[b].D), $"{name}, magnitude {magnitude}, block {b} of {blocks}: scale");
                        for (int j = 0; j < 32; j++)
                            Assert.True(reference[b].Qs[j] == vector[b].Qs[j], $"{name}, magnitude {magnitude}, block {b} of {blocks}, quant {j}: {reference[b].Qs[j]} against {vector[b].Qs[j]}");
                    }
                }
            }
    }

    [Fact]
    public void HalfConversionsAreExact()
    {
        var bits = new ushort[8];
        for (int i = 0; i < 65536; i += 4)
        {
            for (int k = 0; k < 4; k++) bits[k] = (ushort)(i + k);
            Vector128<float> v;
            fixed (ushort* p = bits) v = PackedDot.Half4(p);
            // The eight-wide conversion (AVX2) over the same bits (the other four lanes: their negatives' bit patterns).
            for (int k = 4; k < 8; k++) bits[k] = (ushort)((i + k - 4) ^ 0x8000);
            Vector256<float> v8 = default;
            if (Avx2.IsSupported) fixed (ushort* p = bits) v8 = VnniDot.Half8(p);
            for (int k = 0; k < 8; k++)
            {
                var h = BitConverter.UInt16BitsToHalf(bits[k]);
                if (!Half.IsFinite(h)) continue; // scales are finite; Inf/NaN are not supported by the vector path
                if (k < 4) Assert.True(((float)h).Equals(v.GetElement(k)), $"vector path, bits {bits[k]:X4}");
                if (Avx2.IsSupported) Assert.True(BitConverter.SingleToInt32Bits((float)h) == BitConverter.SingleToInt32Bits(v8.GetElement(k)), $"eight-wide vector path, bits {bits[k]:X4}");
                Assert.True(((float)h).Equals(HalfTable.ToSingle(bits[k])), $"table, bits {bits[k]:X4}");
            }
        }
    }

    /// <summary>
    /// Which paths this process can run must agree with what the parent process switched off (EURUS_EXPECT_PATHS),
    /// so no path is skipped without anyone noticing. Run directly, it prints which paths this machine lacks.
    /// </summary>
    [Fact]
    public void ActivePathsMatchTheEnvironment()
    {
        string active = ActivePaths();
        output.WriteLine($"active kernel paths: {active}");
        var expected = Environment.GetEnvironmentVariable("EURUS_EXPECT_PATHS");
        if (expected is not null) Assert.Equal(expected, active);
        Report();
    }

    /// <summary>The paths this process runs, comma-separated (what the ISA child processes expect).</summary>
    internal static string ActivePaths() => string.Join(",", Paths().Where(p => p.Supported).Select(p => p.Name));

    private void Report()
    {
        foreach (var (name, supported) in Paths())
            if (!supported) output.WriteLine($"kernel path '{name}' is not available in this process; it runs in the ISA child processes or on a machine that has it.");
        if (!MaddByteDot.IsSupported) output.WriteLine($"kernel path '{EmulatedVnni}' needs AVX2 and FMA for its float steps; it runs where they are.");
    }
}
