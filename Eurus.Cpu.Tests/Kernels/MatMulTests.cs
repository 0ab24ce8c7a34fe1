using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>
/// The matmul (activation preparation, packed kernels, the AVX-512 four-token tile, threading) against the scalar
/// reference dot products, for every weight type and token counts around the tile size. Re-run in the ISA child
/// processes like <see cref="KernelPathTests"/>.
/// </summary>
public unsafe class MatMulTests
{
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    public void MultiplyMatchesTheReference(GgmlType type)
    {
        const int rows = 37, cols = 160; // 5 blocks: a four-block quad plus a tail
        var rng = new Random(7);
        var wf = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int rowBytes = (int)GgmlTypeInfo.RowBytes(type, cols);
        var file = new byte[rowBytes * rows];
        for (int r = 0; r < rows; r++) RowCodec.Encode(type, wf.AsSpan(r * cols, cols), file.AsSpan(r * rowBytes, rowBytes));
        foreach (int tokens in new[] { 1, 2, 3, 4, 5, 8, 9 })
            foreach (int threads in new[] { 1, 2 })
            {
                var x = Enumerable.Range(0, tokens * cols).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
                var y = new float[tokens * rows];
                fixed (byte* p = file)
                {
                    using var packed = type is GgmlType.Q4_0 or GgmlType.Q8_0 ? PackedMatrix.FromBlocks(type, rows, cols, file) : null;
                    using var mm = new MatMul(9, cols, threads, needHalf: true, needBFloat: true);
                    mm.Multiply(new WeightMatrix(p, type, rows, cols, packed), x, tokens, y);
                }
                for (int t = 0; t < tokens; t++)
                {
                    var xt = x.AsSpan(t * cols, cols);
                    var q8 = new BlockQ8_0[cols / 32];
                    ActivationQuantizer.QuantizeQ8_0(xt, q8);
                    var h = new Half[cols];
                    FloatConversion.SingleToHalf(xt, h);
                    var bf = new ushort[cols];
                    FloatConversion.SingleToBFloat16(xt, bf);
                    for (int r = 0; r < rows; r++)
                    {
                        var row = file.AsSpan(r * rowBytes, rowBytes);
                        float expected = type switch
                        {
                            GgmlType.Q4_0 => VecDotReference.Q4_0(MemoryMarshal.Cast<byte, BlockQ4_0>(row), q8),
                            GgmlType.Q8_0 => VecDotReference.Q8_0(MemoryMarshal.Cast<byte, BlockQ8_0>(row), q8),
                            GgmlType.F32 => VecDotReference.F32(MemoryMarshal.Cast<byte, float>(row), xt),
                            GgmlType.F16 => VecDotReference.F16(MemoryMarshal.Cast<byte, Half>(row), h),
                            _ => VecDotReference.BF16(MemoryMarshal.Cast<byte, ushort>(row), bf),
                        };
                        float got = y[t * rows + r];
                        Assert.True(MathF.Abs(expected - got) <= 1e-4f * (1 + MathF.Abs(expected)),
                            $"{type}, {tokens} tokens, {threads} threads, token {t} row {r}: {expected} vs {got}");
                    }
                }
            }
    }
}
