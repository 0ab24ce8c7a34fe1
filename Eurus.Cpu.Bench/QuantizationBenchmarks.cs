using BenchmarkDotNet.Attributes;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Bench;

/// <summary>Reference (scalar) quantizers: the baseline the SIMD kernels are measured against.</summary>
[MemoryDiagnoser]
public class QuantizationBenchmarks
{
    private readonly float[] _x = new float[4096];
    private readonly BlockQ8_0[] _q8 = new BlockQ8_0[128];
    private readonly BlockQ4_0[] _q4 = new BlockQ4_0[128];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        for (int i = 0; i < _x.Length; i++) _x[i] = (float)(rng.NextDouble() * 2 - 1);
    }

    [Benchmark] public void QuantizeQ8_0Reference() => QuantReference.QuantizeQ8_0(_x, _q8);
    [Benchmark] public void QuantizeQ4_0Reference() => QuantReference.QuantizeQ4_0(_x, _q4);
}
