using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;
using Xunit.Abstractions;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>
/// Every SIMD path of the dot-product kernels against the scalar reference, over many lengths. The suite re-runs
/// this class in child processes with AVX-512, AVX2 and all hardware intrinsics switched off
/// (<see cref="KernelIsaChildProcessTests"/>); <see cref="ActivePathsMatchTheEnvironment"/> proves which paths ran.
/// </summary>
public unsafe class KernelPathTests(ITestOutputHelper output)
{
    public static readonly int[] BlockCounts = [1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 127, 128, 129];

    private delegate float Q8Path(byte* w, BlockQ8_0* x, float* s, int n);
    private delegate float Q4Path(byte* w, BlockQ8_0* x, float* s, int* sum, int n);

    private static (string Name, bool Supported)[] Paths() =>
    [
        ("avx512", Avx512BW.IsSupported),
        ("avx2", Avx2.IsSupported),
        ("v128", Vector128.IsHardwareAccelerated),
        ("scalar", true),
    ];

    private static (byte[] W8, byte[] W4, BlockQ8_0[] X, float[] Scale, int[] Sum) Data(int blocks, int seed)
    {
        var rng = new Random(seed);
        var wf = Enumerable.Range(0, blocks * 32).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (rng.Next(4) == 0 ? 10 : 1)).ToArray();
        var xf = Enumerable.Range(0, blocks * 32).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var w8 = QuantReference.QuantizeQ8_0(wf);
        // Hostile files may hold −128, which our quantizer never writes: put some in.
        for (int b = 0; b < blocks; b += 3) w8[b * 34 + 2 + rng.Next(32)] = 0x80;
        var w4 = QuantReference.QuantizeQ4_0(wf);
        var x = new BlockQ8_0[blocks];
        ActivationQuantizer.QuantizeQ8_0(xf, x);
        var scale = new float[blocks];
        var sum = new int[blocks];
        ActivationQuantizer.Summarize(x, scale, sum);
        return (w8, w4, x, scale, sum);
    }

    private static void Close(float expected, float actual, float magnitude, string what) =>
        Assert.True(MathF.Abs(expected - actual) <= 1e-5f * magnitude + 1e-6f, $"{what}: {expected} vs {actual}");

    [Fact]
    public void Q8_0PathsMatchTheReference()
    {
        var paths = new Dictionary<string, Q8Path>
        {
            ["avx512"] = DotQ8_0.Avx512, ["avx2"] = DotQ8_0.Avx2Path, ["v128"] = DotQ8_0.V128, ["scalar"] = DotQ8_0.Scalar,
        };
        foreach (int blocks in BlockCounts)
        {
            var (w8, _, x, scale, _) = Data(blocks, blocks);
            float reference = VecDotReference.Q8_0(MemoryMarshal.Cast<byte, BlockQ8_0>(w8), x);
            float magnitude = 127f * 127 * 32 * blocks * MathF.Abs(scale.Max()) * 0.1f;
            fixed (byte* pw = w8) fixed (BlockQ8_0* px = x) fixed (float* ps = scale)
            {
                foreach (var (name, supported) in Paths())
                {
                    if (!supported) continue;
                    Close(reference, paths[name](pw, px, ps, blocks), magnitude, $"Q8_0 {name} {blocks} blocks");
                }
                Close(reference, DotQ8_0.Dot(pw, px, ps, blocks), magnitude, $"Q8_0 dispatch {blocks} blocks");
            }
        }
        Report();
    }

    [Fact]
    public void Q4_0PathsMatchTheReference()
    {
        var paths = new Dictionary<string, Q4Path>
        {
            ["avx512"] = DotQ4_0.Avx512, ["avx2"] = DotQ4_0.Avx2Path, ["v128"] = DotQ4_0.V128, ["scalar"] = DotQ4_0.Scalar,
        };
        foreach (int blocks in BlockCounts)
        {
            var (_, w4, x, scale, sum) = Data(blocks, 1000 + blocks);
            float reference = VecDotReference.Q4_0(MemoryMarshal.Cast<byte, BlockQ4_0>(w4), x);
            float magnitude = 8f * 127 * 32 * blocks * MathF.Abs(scale.Max()) * 10f;
            fixed (byte* pw = w4) fixed (BlockQ8_0* px = x) fixed (float* ps = scale) fixed (int* pm = sum)
            {
                foreach (var (name, supported) in Paths())
                {
                    if (!supported) continue;
                    Close(reference, paths[name](pw, px, ps, pm, blocks), magnitude, $"Q4_0 {name} {blocks} blocks");
                }
                Close(reference, DotQ4_0.Dot(pw, px, ps, pm, blocks), magnitude, $"Q4_0 dispatch {blocks} blocks");
            }
        }
        Report();
    }

    [Fact]
    public void ActivationSummaryMatchesTheBlocks()
    {
        var (_, _, x, scale, sum) = Data(5, 3);
        for (int b = 0; b < 5; b++)
        {
            Assert.Equal((float)x[b].D, scale[b]);
            int s = 0;
            for (int j = 0; j < 32; j++) s += x[b].Qs[j];
            Assert.Equal(s, sum[b]);
        }
    }

    [Fact]
    public void HalfTableMatchesTheCast()
    {
        for (int i = 0; i < 65536; i += 7)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)i);
            float actual = HalfTable.ToSingle((ushort)i);
            Assert.True(expected.Equals(actual), $"bits {i:X4}");
        }
    }

    /// <summary>
    /// Which paths this process can run must agree with what the parent process switched off (EURUS_EXPECT_PATHS),
    /// so no path is skipped without anyone noticing. Run directly, it prints which paths this machine lacks.
    /// </summary>
    [Fact]
    public void ActivePathsMatchTheEnvironment()
    {
        string active = string.Join(",", Paths().Where(p => p.Supported).Select(p => p.Name));
        output.WriteLine($"active kernel paths: {active}");
        var expected = Environment.GetEnvironmentVariable("EURUS_EXPECT_PATHS");
        if (expected is not null) Assert.Equal(expected, active);
        Report();
    }

    private void Report()
    {
        foreach (var (name, supported) in Paths())
            if (!supported) output.WriteLine($"kernel path '{name}' is not available in this process; it runs in the ISA child processes or on a machine that has it.");
    }
}
