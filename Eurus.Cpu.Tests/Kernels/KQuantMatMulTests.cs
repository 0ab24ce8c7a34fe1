using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>
/// The matmul on K-quant weights (Q8_K activation preparation, four-token tiles where AVX-512 has them, the one-token
/// kernel otherwise, threading) against <see cref="KQuantVecDotReference"/>, for token counts around the tile sizes (4 and 8)
/// and past one token chunk (70);
/// the same input multiplied by two weight types reuses its prepared activations. Re-run in the ISA child processes.
/// </summary>
public unsafe class KQuantMatMulTests
{
    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void MultiplyMatchesTheReference(GgmlType type)
    {
        const int rows = 37, cols = 768;
        var rng = new Random(9);
        var wf = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int rowBytes = (int)GgmlTypeInfo.RowBytes(type, cols);
        var file = new byte[rowBytes * rows];
        for (int r = 0; r < rows; r++) RowCodec.Encode(type, wf.AsSpan(r * cols, cols), file.AsSpan(r * rowBytes, rowBytes));
        // A Q8_0 matrix of the same input first: the K-quant multiply must prepare its own activations after it.
        var other = QuantReference.QuantizeQ8_0(wf.AsSpan(0, 3 * cols));
        foreach (int tokens in new[] { 1, 3, 4, 5, 8, 9, 13, 70 })
            foreach (int threads in new[] { 1, 2 })
            // The VNNI repack (AVX-VNNI or AVX2 multiply-adds), Q6_K's in both forms (one byte per quant; compact).
            // Also in row quads (ARM64's layout: SDOT by element there, the portable form elsewhere).
            foreach (var (vnni, compact, quads) in (VnniDot.Supported || MaddByteDot.IsSupported ? new[] { (false, false, false), (true, false, false), (true, true, false) } : [(false, false, false)])
                         .Append((false, false, true)))
            {
                if (compact && type != GgmlType.Q6_K) continue;
                // Pinned: sameInput is checked by the input's address, which a compacting GC between the calls could move.
                var x = GC.AllocateArray<float>(tokens * cols, pinned: true);
                for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 4 - 2);
                var y = new float[tokens * rows];
                var y0 = new float[tokens * 3];
                fixed (byte* p = file)
                fixed (byte* p0 = other)
                {
                    using var packed = PackedMatrix.FromBlocks(GgmlType.Q8_0, 3, cols, other);
                    // Room for more columns than used, and 70 tokens: two token chunks of the matmul (64), its scratch reused.
                    using var mm = new MatMul(70, 2 * cols, threads, needHalf: false, needBFloat: false);
                    mm.Multiply(new WeightMatrix(p0, GgmlType.Q8_0, 3, cols, packed), x, tokens, y0);
                    using var qmk = (vnni || quads) && type is GgmlType.Q4_K or GgmlType.Q5_K ? QmKPacked.FromBlocks(type, rows, cols, file, quads) : null;
                    using var q6k = (vnni || quads) && type == GgmlType.Q6_K ? Q6KPacked.FromBlocks(rows, cols, file, compact, quads) : null;
                    var matrix = new WeightMatrix(p, type, rows, cols, qmk: qmk, q6k: q6k);
                    if (quads) Assert.Equal(type == GgmlType.Q6_K ? MatrixKernel.Q6_KQuads : MatrixKernel.QmKQuads, matrix.Kernel);
                    mm.Multiply(matrix, x, tokens, y, sameInput: true);
                    // Each token of the batch equals that token multiplied alone (decoding), bit for bit.
                    for (int t = 0; t < tokens; t++)
                    {
                        var alone = new float[rows];
                        mm.Multiply(new WeightMatrix(p, type, rows, cols, qmk: qmk, q6k: q6k), x.AsSpan(t * cols, cols), 1, alone);
                        if (vnni || quads || !KQuantTile.Supported) Assert.Equal(alone, y.AsSpan(t * rows, rows).ToArray());
                    }
                }
                for (int t = 0; t < tokens; t++)
                {
                    var q8 = new BlockQ8_K[cols / 256];
                    KQuantReference.QuantizeQ8_K(x.AsSpan(t * cols, cols), q8);
                    for (int r = 0; r < rows; r++)
                    {
                        var row = file.AsSpan(r * rowBytes, rowBytes);
                        float expected = type switch
                        {
                            GgmlType.Q4_K => KQuantVecDotReference.Q4_K(MemoryMarshal.Cast<byte, BlockQ4_K>(row), q8),
                            GgmlType.Q5_K => KQuantVecDotReference.Q5_K(MemoryMarshal.Cast<byte, BlockQ5_K>(row), q8),
                            _ => KQuantVecDotReference.Q6_K(MemoryMarshal.Cast<byte, BlockQ6_K>(row), q8),
                        };
                        float got = y[t * rows + r];
                        Assert.True(MathF.Abs(expected - got) <= 1e-4f * MathF.Max(1, MathF.Abs(expected)),
                            $"{type}, {tokens} tokens, {threads} threads, token {t} row {r}: expected {expected}, got {got}");
                    }
                }
            }
    }
}
