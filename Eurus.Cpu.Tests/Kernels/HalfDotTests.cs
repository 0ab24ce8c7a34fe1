using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>
/// F16/BF16 row dot products and the BF16 widening against the scalar references, lengths 0..257 and around the
/// conversion chunk (512). Re-run in the ISA child processes, where the vector widths in use change.
/// </summary>
public unsafe class HalfDotTests
{
    private static readonly int[] Lengths = [.. Enumerable.Range(0, 258), 511, 512, 513, 1023, 1024, 1025, 4096, 14336];

    [Fact]
    public void BFloat16WideningMatchesTheScalarDefinition()
    {
        var rng = new Random(3);
        foreach (int n in Lengths)
        {
            var src = Enumerable.Range(0, n).Select(_ => (ushort)rng.Next(65536)).ToArray();
            var got = new float[n + 1];
            got[n] = 12345f; // must stay untouched
            FloatConversion.BFloat16ToSingle(src, got);
            for (int i = 0; i < n; i++)
                Assert.Equal((uint)src[i] << 16, BitConverter.SingleToUInt32Bits(got[i]));
            Assert.Equal(12345f, got[n]);
        }
    }

    [Fact]
    public void HalfDotsMatchTheReference()
    {
        var rng = new Random(4);
        foreach (int n in Lengths)
        {
            var wf = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (rng.Next(8) == 0 ? 30 : 1)).ToArray();
            var xf = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            var wh = new Half[n]; var xh = new Half[n];
            FloatConversion.SingleToHalf(wf, wh);
            FloatConversion.SingleToHalf(xf, xh);
            var wb = new ushort[n]; var xb = new ushort[n];
            FloatConversion.SingleToBFloat16(wf, wb);
            FloatConversion.SingleToBFloat16(xf, xb);
            var xhf = new float[n]; var xbf = new float[n];
            FloatConversion.HalfToSingle(xh, xhf);
            FloatConversion.BFloat16ToSingle(xb, xbf);
            float magnitude = 0;
            for (int i = 0; i < n; i++) magnitude += MathF.Abs(wf[i] * xf[i]);
            float tol = 1e-5f * magnitude + 1e-6f;
            fixed (Half* pw = wh) fixed (float* px = xhf)
            {
                float expected = VecDotReference.F16(wh, xh), got = HalfDot.F16(pw, px, n);
                Assert.True(MathF.Abs(expected - got) <= tol, $"F16, n={n}: {expected} vs {got}");
            }
            fixed (ushort* pw = wb) fixed (float* px = xbf)
            {
                float expected = VecDotReference.BF16(wb, xb), got = HalfDot.BF16(pw, px, n);
                Assert.True(MathF.Abs(expected - got) <= tol, $"BF16, n={n}: {expected} vs {got}");
            }
        }
    }
}
