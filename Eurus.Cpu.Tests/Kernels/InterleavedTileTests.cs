using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Kernels;
using Eurus.Cpu.Quantization;
using Xunit.Abstractions;

namespace Eurus.Cpu.Tests.Kernels;

/// <summary>
/// The Q4_0 and Q8_0 prompt tiles over the interleaved repack (<see cref="VnniDot.Q4Tile2x4{TDot}"/>,
/// <see cref="VnniDot.Q8Tile2x4{TDot}"/>: two rows × four tokens) for every <see cref="IByteDot"/> this process runs —
/// AVX2's multiply-adds, VPDPBUSD where the CPU has AVX-VNNI, and VPDPBUSD emulated (<see cref="EmulatedVnniByteDot"/>)
/// everywhere AVX2 runs: each output equals the row kernel bit for bit (a prompt gives what decoding gives) and the
/// reference dot product within rounding, over block counts around the eight-block group (the scalar tail).
/// </summary>
public unsafe class InterleavedTileTests(ITestOutputHelper output)
{
    private static readonly int[] BlockCounts = [1, 7, 8, 9, 16, 17, 33, 129];

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    public void TilesEqualTheRowKernelAndMatchTheReference(GgmlType type)
    {
        if (!MaddByteDot.IsSupported)
        {
            output.WriteLine("no AVX2/FMA in this process: the interleaved tiles do not run here (rows use the other paths).");
            return;
        }
        Check<MaddByteDot>(type, "madd");
        Check<EmulatedVnniByteDot>(type, KernelPathTests.EmulatedVnni);
        if (AvxVnni.IsSupported) Check<VnniByteDot>(type, "vnni");
        else output.WriteLine("no AVX-VNNI in this process: the VPDPBUSD tiles ran emulated only.");
    }

    private static void Check<TDot>(GgmlType type, string name) where TDot : struct, IByteDot
    {
        const int Tokens = 6, T0 = 1;
        foreach (int blocks in BlockCounts)
        {
            int cols = blocks * 32, rowBytes = (int)GgmlTypeInfo.RowBytes(type, cols);
            var wf = new float[2][];
            var file = new byte[2 * rowBytes];
            for (int r = 0; r < 2; r++)
            {
                wf[r] = KernelPathTests.Random(cols, 100 * r + blocks, 10);
                (type == GgmlType.Q4_0 ? QuantReference.QuantizeQ4_0(wf[r]) : QuantReference.QuantizeQ8_0(wf[r])).CopyTo(file, r * rowBytes);
            }
            // Hostile files may hold −128 in Q8_0 (our quantizer never writes it): the widest product the kernels must hold.
            if (type == GgmlType.Q8_0)
                for (int b = 0; b < 2 * blocks; b += 2) file[b * 34 + 2 + b % 32] = 0x80;
            var xf = KernelPathTests.Random(Tokens * cols, 1000 + blocks, 4);
            using var m = PackedMatrix.FromBlocks(type, 2, cols, file, interleaved: true);
            using var acts = new PackedActivations(Tokens, cols);
            acts.Prepare(xf, Tokens, cols, forQ4: true, forQ8: true, forVnni: true);
            var y = new float[Tokens * 2];
            fixed (float* py = y)
            {
                if (type == GgmlType.Q4_0)
                    VnniDot.Q4Tile2x4<TDot>(m.RowScales(0), m.RowQs(0), m.RowScales(1), m.RowQs(1), blocks, acts, T0, py + T0 * 2, 2);
                else
                    VnniDot.Q8Tile2x4<TDot>(m.RowScales(0), m.RowQs(0), m.RowScales(1), m.RowQs(1), blocks, acts, T0, py + T0 * 2, 2);
            }
            for (int j = T0; j < T0 + 4; j++)
            {
                var xBlocks = new BlockQ8_0[blocks];
                ActivationQuantizer.QuantizeQ8_0(xf.AsSpan(j * cols, cols), xBlocks);
                for (int r = 0; r < 2; r++)
                {
                    var token = acts.For(j);
                    float row = type == GgmlType.Q4_0
                        ? VnniDot.Q4<TDot>(m.RowScales(r), m.RowQs(r), blocks, token)
                        : VnniDot.Q8<TDot>(m.RowScales(r), m.RowQs(r), blocks, token);
                    float tile = y[j * 2 + r];
                    Assert.True(BitConverter.SingleToInt32Bits(row) == BitConverter.SingleToInt32Bits(tile),
                        $"{type} {name}, {blocks} blocks, row {r}, token {j}: tile {tile} vs row kernel {row}");
                    var rowFile = file.AsSpan(r * rowBytes, rowBytes);
                    float reference = type == GgmlType.Q4_0
                        ? VecDotReference.Q4_0(MemoryMarshal.Cast<byte, BlockQ4_0>(rowFile), xBlocks)
                        : VecDotReference.Q8_0(MemoryMarshal.Cast<byte, BlockQ8_0>(rowFile), xBlocks);
                    float magnitude = 0;
                    for (int i = 0; i < cols; i++) magnitude += MathF.Abs(wf[r][i] * xf[j * cols + i]);
                    Assert.True(MathF.Abs(reference - tile) <= 1e-5f * magnitude + 1e-5f,
                        $"{type} {name}, {blocks} blocks, row {r}, token {j}: reference {reference}, tile {tile}");
                }
            }
        }
    }
}
