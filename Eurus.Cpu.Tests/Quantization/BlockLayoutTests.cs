using System.Runtime.CompilerServices;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Tests.Quantization;

public class BlockLayoutTests
{
    [Fact]
    public void BlockSizesMatchGgml()
    {
        Assert.Equal(34, Unsafe.SizeOf<BlockQ8_0>());
        Assert.Equal(18, Unsafe.SizeOf<BlockQ4_0>());
        Assert.Equal(34, GgmlTypeInfo.BlockBytes(GgmlType.Q8_0));
        Assert.Equal(18, GgmlTypeInfo.BlockBytes(GgmlType.Q4_0));
        Assert.Equal(32, GgmlTypeInfo.BlockElements(GgmlType.Q4_0));
    }

    /// <summary>Every block struct's size and every field offset the kernels use: ggml's layout (ggml-common.h).</summary>
    [Fact]
    public void EveryBlockSizeAndOffsetMatchesTheLayout()
    {
        static void Check<T>(int bytes, int elements, int typeBytes, GgmlType? type, params (string Field, int Offset, int Expected)[] fields) where T : struct
        {
            Assert.Equal(bytes, Unsafe.SizeOf<T>());
            Assert.Equal(bytes, typeBytes);
            if (type is { } t)
            {
                Assert.Equal(bytes, GgmlTypeInfo.BlockBytes(t));
                Assert.Equal(elements, GgmlTypeInfo.BlockElements(t));
            }
            foreach (var (field, offset, expected) in fields)
            {
                Assert.Equal(expected, offset);
                Assert.Equal(expected, (int)System.Runtime.InteropServices.Marshal.OffsetOf<T>(field));
            }
        }
        Check<BlockQ8_0>(34, 32, BlockQ8_0.Bytes, GgmlType.Q8_0, ("Qs", BlockQ8_0.QsOffset, 2));
        Check<BlockQ4_0>(18, 32, BlockQ4_0.Bytes, GgmlType.Q4_0, ("Qs", BlockQ4_0.QsOffset, 2));
        Check<BlockQ5_0>(22, 32, BlockQ5_0.Bytes, GgmlType.Q5_0, ("Qh", BlockQ5_0.QhOffset, 2), ("Qs", BlockQ5_0.QsOffset, 6));
        Check<BlockQ4_1>(20, 32, BlockQ4_1.Bytes, GgmlType.Q4_1, ("M", BlockQ4_1.MOffset, 2), ("Qs", BlockQ4_1.QsOffset, 4));
        Check<BlockQ5_1>(24, 32, BlockQ5_1.Bytes, GgmlType.Q5_1, ("M", BlockQ5_1.MOffset, 2), ("Qh", BlockQ5_1.QhOffset, 4), ("Qs", BlockQ5_1.QsOffset, 8));
        Check<BlockQ4_K>(144, 256, BlockQ4_K.Bytes, GgmlType.Q4_K, ("Scales", BlockQ4_K.ScalesOffset, 4), ("Qs", BlockQ4_K.QsOffset, 16));
        Check<BlockQ5_K>(176, 256, BlockQ5_K.Bytes, GgmlType.Q5_K, ("Scales", BlockQ5_K.ScalesOffset, 4), ("Qh", BlockQ5_K.QhOffset, 16), ("Qs", BlockQ5_K.QsOffset, 48));
        Check<BlockQ6_K>(210, 256, BlockQ6_K.Bytes, GgmlType.Q6_K, ("Qh", BlockQ6_K.QhOffset, 128), ("Scales", BlockQ6_K.ScalesOffset, 192), ("D", BlockQ6_K.DOffset, 208));
        Check<BlockQ8_K>(292, 256, BlockQ8_K.Bytes, GgmlType.Q8_K, ("Qs", BlockQ8_K.QsOffset, 4), ("BSums", BlockQ8_K.BSumsOffset, 260));
    }

    [Fact]
    public unsafe void Q4NibbleOrderIsLowFirstHalfHighSecondHalf()
    {
        var block = new BlockQ4_0 { D = (Half)1f };
        for (int j = 0; j < 16; j++) block.Qs[j] = (byte)((j % 16) | ((15 - j) << 4));
        var y = new float[32];
        QuantReference.DequantizeQ4_0([block], y);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal(j - 8, y[j]);
            Assert.Equal(15 - j - 8, y[j + 16]);
        }
    }

    [Fact]
    public void Q8QuantizationRoundsHalfAwayFromZero()
    {
        var x = new float[32];
        x[0] = 127f;      // d = 1
        x[1] = 2.5f;      // -> 3
        x[2] = -2.5f;     // -> -3
        x[3] = 0.49f;
        var b = new BlockQ8_0[1];
        QuantReference.QuantizeQ8_0(x, b);
        var y = new float[32];
        QuantReference.DequantizeQ8_0(b, y);
        Assert.Equal(new[] { 127f, 3f, -3f, 0f }, y[..4]);
    }

    [Fact]
    public void ZeroBlocksQuantizeToZero()
    {
        var x = new float[64];
        var y = new float[64];
        QuantReference.DequantizeQ4_0(MemoryMarshalCast(QuantReference.QuantizeQ4_0(x)), y);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    private static ReadOnlySpan<BlockQ4_0> MemoryMarshalCast(byte[] b) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, BlockQ4_0>(b);

    [Theory]
    [InlineData(1f, 0x3F80)]
    [InlineData(-2f, 0xC000)]
    [InlineData(1.00390625f, 0x3F80)]   // exactly halfway, rounds to even (down)
    [InlineData(1.01171875f, 0x3F82)]   // halfway, rounds to even (up)
    [InlineData(float.PositiveInfinity, 0x7F80)]
    public void BFloat16RoundsToNearestEven(float value, int bits)
    {
        Assert.Equal((ushort)bits, FloatConversion.SingleToBFloat16(value));
        var back = new float[1];
        FloatConversion.BFloat16ToSingle([(ushort)bits], back);
        Assert.Equal(BitConverter.UInt32BitsToSingle((uint)bits << 16), back[0]);
    }

    [Fact]
    public void BFloat16KeepsNaN() => Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)FloatConversion.SingleToBFloat16(float.NaN) << 16)));

    [Fact]
    public void HalfBulkConversionMatchesScalarCasts()
    {
        var src = Enumerable.Range(0, 1000).Select(i => (i - 500) * 0.0123f + 1e-6f * i).ToArray();
        var h = new Half[src.Length];
        FloatConversion.SingleToHalf(src, h);
        var back = new float[src.Length];
        FloatConversion.HalfToSingle(h, back);
        for (int i = 0; i < src.Length; i++)
        {
            Assert.Equal((Half)src[i], h[i]);
            Assert.Equal((float)h[i], back[i]);
        }
    }
}
