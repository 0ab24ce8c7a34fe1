using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Tests.Quantization;

public unsafe class Q5_0Tests
{
    [Fact]
    public void BlockIs22Bytes() => Assert.Equal(22, Unsafe.SizeOf<BlockQ5_0>());

    /// <summary>The layout rule on a hand-made block: nibble order as Q4_0, element j's fifth bit in bit j of qh.</summary>
    [Fact]
    public void LayoutDecodesAsDocumented()
    {
        var blk = new BlockQ5_0 { D = (Half)1f };
        for (int j = 0; j < 16; j++) blk.Qs[j] = (byte)(j | ((15 - j) << 4));
        uint qh = 0xA5A5F00Fu;
        for (int i = 0; i < 4; i++) blk.Qh[i] = (byte)(qh >> (8 * i));
        var y = new float[32];
        Q5_0Reference.Dequantize([blk], y);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal((j | (int)((qh >> j) & 1) << 4) - 16, y[j]);
            Assert.Equal(((15 - j) | (int)((qh >> (j + 16)) & 1) << 4) - 16, y[j + 16]);
        }
    }

    /// <summary>Widening to Q8_0 keeps every value exactly, for any bit pattern.</summary>
    [Fact]
    public void WideningToQ8_0IsLossless()
    {
        var rng = new Random(3);
        var bytes = new byte[64 * BlockQ5_0.Bytes];
        rng.NextBytes(bytes);
        var blocks = MemoryMarshal.Cast<byte, BlockQ5_0>(bytes.AsSpan()).ToArray();
        for (int b = 0; b < blocks.Length; b++) blocks[b].D = (Half)(rng.NextDouble() - 0.5);
        var q8 = new BlockQ8_0[blocks.Length];
        Q5_0Reference.WidenToQ8_0(blocks, q8);
        var a = new float[blocks.Length * 32];
        var b8 = new float[blocks.Length * 32];
        Q5_0Reference.Dequantize(blocks, a);
        QuantReference.DequantizeQ8_0(q8, b8);
        Assert.Equal(a, b8);
    }

    [Fact]
    public void QuantizationErrorIsSmall()
    {
        var rng = new Random(4);
        var x = Enumerable.Range(0, 4096).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var blocks = new BlockQ5_0[x.Length / 32];
        Q5_0Reference.Quantize(x, blocks);
        var y = new float[x.Length];
        Q5_0Reference.Dequantize(blocks, y);
        double err = 0, sq = 0;
        for (int i = 0; i < x.Length; i++)
        {
            err = Math.Max(err, Math.Abs(x[i] - y[i]));
            sq += (x[i] - y[i]) * (x[i] - y[i]);
        }
        // Steps of amax/16 (amax ≤ 1 here): half a step inside the range, one step where the extreme opposite the
        // signed maximum clips to 15; RMS about step/√12.
        Assert.True(err <= 1.0 / 16 + 1e-4, $"max error {err}");
        Assert.True(Math.Sqrt(sq / x.Length) <= 0.025, $"RMS error {Math.Sqrt(sq / x.Length)}");
    }
}
