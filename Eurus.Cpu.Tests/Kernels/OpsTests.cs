using Eurus.Cpu.Kernels;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>The vectorised element-wise operators against plain double-precision formulas, lengths 0…257 and beyond the SiLU chunk.</summary>
public class OpsTests
{
    public static IEnumerable<object[]> Lengths() => Enumerable.Range(0, 258).Where(n => n < 20 || n % 16 is 0 or 1 or 15).Concat([1023, 1024, 1025, 4097]).Select(n => new object[] { n });

    [Theory]
    [MemberData(nameof(Lengths))]
    public void SoftmaxMatchesTheFormula(int n)
    {
        var rng = new Random(n);
        var x = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 40 - 20)).ToArray();
        double max = n == 0 ? 0 : x.Max();
        double sum = x.Sum(v => Math.Exp(v - max));
        var y = (float[])x.Clone();
        Ops.Softmax(y);
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(y[i] - Math.Exp(x[i] - max) / sum) <= 1e-6 + 1e-5 * Math.Exp(x[i] - max) / sum, $"n {n}, i {i}");
        if (n > 0) Assert.True(Math.Abs(y.Sum() - 1) < 1e-4);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void SiluMulMatchesTheFormula(int n)
    {
        var rng = new Random(1000 + n);
        var g = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 30 - 15)).ToArray();
        var u = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var y = (float[])g.Clone();
        Ops.SiluMul(y, u);
        for (int i = 0; i < n; i++)
        {
            double expected = g[i] / (1 + Math.Exp(-g[i])) * u[i];
            Assert.True(Math.Abs(y[i] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"n {n}, i {i}: {y[i]} vs {expected}");
        }
    }
}
