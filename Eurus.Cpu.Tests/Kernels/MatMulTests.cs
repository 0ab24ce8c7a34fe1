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
    // 5 blocks: a four-block quad plus a tail; 13: an eight-block VNNI group plus a tail; 16: two whole groups.
    [Theory]
    [InlineData(GgmlType.Q4_0, 5)]
    [InlineData(GgmlType.Q4_0, 13)]
    [InlineData(GgmlType.Q4_0, 16)]
    [InlineData(GgmlType.Q8_0, 5)]
    [InlineData(GgmlType.Q8_0, 13)]
    [InlineData(GgmlType.Q8_0, 16)]
    [InlineData(GgmlType.F32, 5)]
    [InlineData(GgmlType.F16, 5)]
    [InlineData(GgmlType.BF16, 5)]
    // Row quads (ARM64's layout; SDOT by element there, the portable form elsewhere): 37 rows = nine groups and a plain row.
    [InlineData(GgmlType.Q4_0, 1, true)]
    [InlineData(GgmlType.Q4_0, 5, true)]
    [InlineData(GgmlType.Q8_0, 1, true)]
    [InlineData(GgmlType.Q8_0, 5, true)]
    public void MultiplyMatchesTheReference(GgmlType type, int blocks, bool quads = false)
    {
        const int rows = 37;
        int cols = blocks * 32;
        var rng = new Random(7);
        var wf = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int rowBytes = (int)GgmlTypeInfo.RowBytes(type, cols);
        var file = new byte[rowBytes * rows];
        for (int r = 0; r < rows; r++) RowCodec.Encode(type, wf.AsSpan(r * cols, cols), file.AsSpan(r * rowBytes, rowBytes));
        // 67 tokens: more than one chunk of MatMul.TokenBlock, with a tail of three.
        foreach (int tokens in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, Eurus.Cpu.Kernels.KernelOptions.Default.TokenBlock + 3 })
            foreach (int threads in new[] { 1, 2 })
            {
                var x = Enumerable.Range(0, tokens * cols).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
                var y = new float[tokens * rows];
                fixed (byte* p = file)
                {
                    using var packed = type is GgmlType.Q4_0 or GgmlType.Q8_0 ? PackedMatrix.FromBlocks(type, rows, cols, file, quads ? false : null, quads) : null;
                    using var mm = new MatMul(Math.Max(9, tokens), cols, threads, needHalf: true, needBFloat: true);
                    var matrix = new WeightMatrix(p, type, rows, cols, packed);
                    if (quads) Assert.Equal(type == GgmlType.Q4_0 ? MatrixKernel.Q4_0Quads : MatrixKernel.Q8_0Quads, matrix.Kernel);
                    mm.Multiply(matrix, x, tokens, y);
                    // Each token of a batch equals that token multiplied alone (decoding), bit for bit.
                    for (int t = 0; t < tokens; t++)
                    {
                        var alone = new float[rows];
                        mm.Multiply(new WeightMatrix(p, type, rows, cols, packed), x.AsSpan(t * cols, cols), 1, alone);
                        Assert.Equal(alone, y.AsSpan(t * rows, rows).ToArray());
                    }
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

    [Fact]
    public void ActivationsPreparedOnceServeMatricesOfOtherTypes()
    {
        const int rows = 9, cols = 320, tokens = 5;
        var rng = new Random(3);
        var types = new[] { GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.F16, GgmlType.Q4_0, GgmlType.Q8_0 };
        var files = types.Select(type =>
        {
            int rb = (int)GgmlTypeInfo.RowBytes(type, cols);
            var f = new byte[rb * rows];
            var row = new float[cols];
            for (int r = 0; r < rows; r++)
            {
                for (int i = 0; i < cols; i++) row[i] = (float)(rng.NextDouble() * 2 - 1);
                RowCodec.Encode(type, row, f.AsSpan(r * rb, rb));
            }
            return f;
        }).ToArray();
        // Pinned, as the transformers' buffers are: sameInput is checked by address, and a GC may move a plain array.
        var x = GC.AllocateArray<float>(tokens * cols, pinned: true);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        using var shared = new MatMul(tokens, cols, 2, needHalf: true, needBFloat: false);
        for (int i = 0; i < types.Length; i++)
        {
            fixed (byte* p = files[i])
            {
                // The last two matrices use the plain layout: the activations' VNNI and plain forms coexist.
                using var packed = types[i] is GgmlType.Q4_0 or GgmlType.Q8_0 ? PackedMatrix.FromBlocks(types[i], rows, cols, files[i], interleaved: i < 3 && (VnniDot.Supported || MaddByteDot.IsSupported)) : null;
                var w = new WeightMatrix(p, types[i], rows, cols, packed);
                var reused = new float[tokens * rows];
                shared.Multiply(w, x, tokens, reused, sameInput: i > 0);
                using var fresh = new MatMul(tokens, cols, 2, needHalf: true, needBFloat: false);
                var expected = new float[tokens * rows];
                fresh.Multiply(w, x, tokens, expected);
                Assert.Equal(expected, reused);
            }
        }
        var other = (float[])x.Clone();
        fixed (byte* p = files[0])
        {
            using var packed = PackedMatrix.FromBlocks(GgmlType.Q4_0, rows, cols, files[0]);
            var w = new WeightMatrix(p, GgmlType.Q4_0, rows, cols, packed);
            var y = new float[tokens * rows];
            var e = Assert.Throws<InvalidOperationException>(() => shared.Multiply(w, other, tokens, y, sameInput: true));
            Assert.Contains("sameInput", e.Message);
        }
    }
}
