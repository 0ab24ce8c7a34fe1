using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Tests.Quantization;

/// <summary>Q4_1 / Q5_1: block sizes, the layout rule on hand-made blocks, and the bound of the re-quantization to Q8_0.</summary>
public unsafe class OffsetQuantTests
{
    [Fact]
    public void BlocksHaveGgmlSizes()
    {
        Assert.Equal(20, Unsafe.SizeOf<BlockQ4_1>());
        Assert.Equal(24, Unsafe.SizeOf<BlockQ5_1>());
        Assert.Equal(20, GgmlTypeInfo.BlockBytes(GgmlType.Q4_1));
        Assert.Equal(24, GgmlTypeInfo.BlockBytes(GgmlType.Q5_1));
    }

    [Fact]
    public void LayoutDecodesAsDocumented()
    {
        var b4 = new BlockQ4_1 { D = (Half)0.5f, M = (Half)(-3f) };
        var b5 = new BlockQ5_1 { D = (Half)0.25f, M = (Half)1.5f };
        uint qh = 0x5AF00F3Cu;
        for (int i = 0; i < 4; i++) b5.Qh[i] = (byte)(qh >> (8 * i));
        for (int j = 0; j < 16; j++)
        {
            b4.Qs[j] = (byte)(j | ((15 - j) << 4));
            b5.Qs[j] = (byte)(j | ((15 - j) << 4));
        }
        var y4 = new float[32];
        var y5 = new float[32];
        OffsetQuantReference.DequantizeQ4_1([b4], y4);
        RowCodec.Decode(GgmlType.Q5_1, MemoryMarshal.AsBytes(new[] { b5 }.AsSpan()), y5);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal(j * 0.5f - 3f, y4[j]);
            Assert.Equal((15 - j) * 0.5f - 3f, y4[j + 16]);
            Assert.Equal((j | (int)((qh >> j) & 1) << 4) * 0.25f + 1.5f, y5[j]);
            Assert.Equal(((15 - j) | (int)((qh >> (j + 16)) & 1) << 4) * 0.25f + 1.5f, y5[j + 16]);
        }
    }

    /// <summary>
    /// Split into a Q8_0 block of the quants plus the minimum, every value of random blocks (any bit pattern, finite
    /// scales) comes back exactly: Q8_0 value + minimum = q·d + m.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_1)]
    [InlineData(GgmlType.Q5_1)]
    public void SplitIntoQ8_0AndMinimumIsExact(GgmlType type)
    {
        var rng = new Random(4);
        int blocks = 500, bytes = GgmlTypeInfo.BlockBytes(type);
        var src = new byte[blocks * bytes];
        rng.NextBytes(src);
        for (int b = 0; b < blocks; b++)
        {
            BitConverter.TryWriteBytes(src.AsSpan(b * bytes), (Half)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-4, 2))));
            BitConverter.TryWriteBytes(src.AsSpan(b * bytes + 2), (Half)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-4, 2))));
        }
        var exact = new float[blocks * 32];
        RowCodec.Decode(type, src, exact);
        var q8 = new BlockQ8_0[1];
        var back = new float[32];
        for (int b = 0; b < blocks; b++)
        {
            float m = OffsetQuantReference.SplitToQ8_0(type, src.AsSpan(b * bytes, bytes), ref q8[0]);
            QuantReference.DequantizeQ8_0(q8, back);
            for (int j = 0; j < 32; j++) Assert.Equal(exact[b * 32 + j], back[j] + m);
        }
    }
}
