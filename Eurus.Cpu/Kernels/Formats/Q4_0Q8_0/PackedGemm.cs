using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Prompt processing (many tokens per weight pass): a row's weights (Q4_0 four-block quads, Q8_0 blocks) are unpacked
/// once and applied to a tile of four tokens, so the nibble unpacking and the weight-scale conversion are shared.
/// AVX-512 only; other machines use <see cref="PackedDot"/> per token (same arithmetic, exact integer block sums).
/// </summary>
internal static unsafe class PackedGemm
{
    public static bool Supported => Avx512BW.IsSupported;

    /// <summary>
    /// Two rows × four tokens: each unpacked weight quad serves four tokens and each token's prepared activations serve
    /// both rows. Per (row, token) the arithmetic and summation order are those of <see cref="PackedDot.Q4Avx512"/>
    /// (even and odd quads in two accumulators, the remainder through the scalar path), so batched prompts give
    /// bit-identical results to token-by-token decoding.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4Tile2x4(ushort* wsA, byte* wqA, ushort* wsB, byte* wqB, int blocks, PackedActivations acts, int t0, float* yA, long stride)
    {
        var x0 = acts.For(t0);
        var x1 = acts.For(t0 + 1);
        var x2 = acts.For(t0 + 2);
        var x3 = acts.For(t0 + 3);
        // [row][token][even/odd quad]
        Vector512<float> a0e = default, a0o = default, a1e = default, a1o = default, a2e = default, a2o = default, a3e = default, a3o = default;
        Vector512<float> c0e = default, c0o = default, c1e = default, c1o = default, c2e = default, c2o = default, c3e = default, c3o = default;
        var mask = Vector512.Create((byte)0x0F);
        var ones = Vector512.Create((short)1);
        var idx = Vector512.Create(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        int quads = blocks / 4;
        for (int q = 0; q < quads; q++)
        {
            int b = q * 4;
            Sse.Prefetch0(wqA + b * 16 + 4096); // rows stream from memory on the first token tile: prefetch as the decode kernel does
            Sse.Prefetch0(wqB + b * 16 + 4096);
            var (loA, hiA) = PackedDot.Nibbles512(wqA + b * 16, mask);
            var dA = PackedDot.Scales16(wsA + b, idx);
            var (loB, hiB) = PackedDot.Nibbles512(wqB + b * 16, mask);
            var dB = PackedDot.Scales16(wsB + b, idx);
            if ((q & 1) == 0)
            {
                Two(loA, hiA, dA, loB, hiB, dB, x0, b, ones, ref a0e, ref c0e);
                Two(loA, hiA, dA, loB, hiB, dB, x1, b, ones, ref a1e, ref c1e);
                Two(loA, hiA, dA, loB, hiB, dB, x2, b, ones, ref a2e, ref c2e);
                Two(loA, hiA, dA, loB, hiB, dB, x3, b, ones, ref a3e, ref c3e);
            }
            else
            {
                Two(loA, hiA, dA, loB, hiB, dB, x0, b, ones, ref a0o, ref c0o);
                Two(loA, hiA, dA, loB, hiB, dB, x1, b, ones, ref a1o, ref c1o);
                Two(loA, hiA, dA, loB, hiB, dB, x2, b, ones, ref a2o, ref c2o);
                Two(loA, hiA, dA, loB, hiB, dB, x3, b, ones, ref a3o, ref c3o);
            }
        }
        int tail = quads * 4;
        yA[0] = Vector512.Sum(a0e + a0o) + PackedDot.Q4Scalar(wsA, wqA, blocks, x0, tail);
        yA[stride] = Vector512.Sum(a1e + a1o) + PackedDot.Q4Scalar(wsA, wqA, blocks, x1, tail);
        yA[2 * stride] = Vector512.Sum(a2e + a2o) + PackedDot.Q4Scalar(wsA, wqA, blocks, x2, tail);
        yA[3 * stride] = Vector512.Sum(a3e + a3o) + PackedDot.Q4Scalar(wsA, wqA, blocks, x3, tail);
        yA[1] = Vector512.Sum(c0e + c0o) + PackedDot.Q4Scalar(wsB, wqB, blocks, x0, tail);
        yA[stride + 1] = Vector512.Sum(c1e + c1o) + PackedDot.Q4Scalar(wsB, wqB, blocks, x1, tail);
        yA[2 * stride + 1] = Vector512.Sum(c2e + c2o) + PackedDot.Q4Scalar(wsB, wqB, blocks, x2, tail);
        yA[3 * stride + 1] = Vector512.Sum(c3e + c3o) + PackedDot.Q4Scalar(wsB, wqB, blocks, x3, tail);
    }

    /// <summary>
    /// Two rows × two tokens: <see cref="Q4Tile2x4"/> for a batch of two or three tokens (two decoding sequences of a
    /// server step, a prompt's last tokens), with the same arithmetic and order, so it too is bit-identical to decoding.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4Tile2x2(ushort* wsA, byte* wqA, ushort* wsB, byte* wqB, int blocks, PackedActivations acts, int t0, float* yA, long stride)
    {
        var x0 = acts.For(t0);
        var x1 = acts.For(t0 + 1);
        Vector512<float> a0e = default, a0o = default, a1e = default, a1o = default;
        Vector512<float> c0e = default, c0o = default, c1e = default, c1o = default;
        var mask = Vector512.Create((byte)0x0F);
        var ones = Vector512.Create((short)1);
        var idx = Vector512.Create(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        int quads = blocks / 4;
        for (int q = 0; q < quads; q++)
        {
            int b = q * 4;
            // Two tokens leave the loop light enough for memory to lead (a decode step): prefetch like the decode kernel.
            Sse.Prefetch0(wqA + b * 16 + 4096);
            Sse.Prefetch0(wqB + b * 16 + 4096);
            var (loA, hiA) = PackedDot.Nibbles512(wqA + b * 16, mask);
            var dA = PackedDot.Scales16(wsA + b, idx);
            var (loB, hiB) = PackedDot.Nibbles512(wqB + b * 16, mask);
            var dB = PackedDot.Scales16(wsB + b, idx);
            if ((q & 1) == 0)
            {
                Two(loA, hiA, dA, loB, hiB, dB, x0, b, ones, ref a0e, ref c0e);
                Two(loA, hiA, dA, loB, hiB, dB, x1, b, ones, ref a1e, ref c1e);
            }
            else
            {
                Two(loA, hiA, dA, loB, hiB, dB, x0, b, ones, ref a0o, ref c0o);
                Two(loA, hiA, dA, loB, hiB, dB, x1, b, ones, ref a1o, ref c1o);
            }
        }
        int tail = quads * 4;
        yA[0] = Vector512.Sum(a0e + a0o) + PackedDot.Q4Scalar(wsA, wqA, blocks, x0, tail);
        yA[stride] = Vector512.Sum(a1e + a1o) + PackedDot.Q4Scalar(wsA, wqA, blocks, x1, tail);
        yA[1] = Vector512.Sum(c0e + c0o) + PackedDot.Q4Scalar(wsB, wqB, blocks, x0, tail);
        yA[stride + 1] = Vector512.Sum(c1e + c1o) + PackedDot.Q4Scalar(wsB, wqB, blocks, x1, tail);
    }

    // One token's quad for two rows, sharing the token's activation loads.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Two(Vector512<byte> loA, Vector512<byte> hiA, Vector512<float> dA, Vector512<byte> loB, Vector512<byte> hiB, Vector512<float> dB,
        in PackedActivations.Token x, int b, Vector512<short> ones, ref Vector512<float> accA, ref Vector512<float> accB)
    {
        var xl = Vector512.Load(x.Lo + b * 16);
        var xh = Vector512.Load(x.Hi + b * 16);
        var bias = Vector512.Load(x.Bias + b * 4);
        var d16 = Vector512.Load(x.D16 + b * 4);
        var sA = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(loA, xl) + Avx512BW.MultiplyAddAdjacent(hiA, xh), ones) - bias;
        var sB = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(loB, xl) + Avx512BW.MultiplyAddAdjacent(hiB, xh), ones) - bias;
        accA = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sA) * d16, dA, accA);
        accB = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(sB) * d16, dB, accB);
    }

    /// <summary>
    /// Q8_0: one row × four tokens. Each pair of blocks is split into |w| and its sign mask once and applied to four
    /// tokens, with the arithmetic and order of <see cref="PackedDot.Q8Avx512"/> (one accumulator, block pairs in order,
    /// the remainder through the scalar path), so batched prompts give bit-identical results to decoding.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8Tile4(ushort* ws, sbyte* wq, int blocks, PackedActivations acts, int t0, float* y, long stride)
    {
        var x0 = acts.For(t0);
        long s1 = acts.TokenStride8, s2 = 2 * s1, s3 = 3 * s1; // bytes between consecutive tokens in X8, NX8 and D8
        byte* x8 = (byte*)x0.X8, nx8 = (byte*)x0.NX8, d8 = (byte*)x0.D8;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var ones = Vector512.Create((short)1);
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            Sse.Prefetch0(wq + b * 32 + 4096);
            Sse.Prefetch0(wq + b * 32 + 4096 + 64);
            var (dw01, dw23) = PackedDot.Scales8x2(ws + b);
            for (int h = 0; h < 2; h++)
            {
                var (abs, neg) = PackedDot.SignSplit(wq + b * 32 + h * 64);
                var dw = h == 0 ? dw01 : dw23;
                long o = b * 32 + h * 64; // X8/NX8 byte offset; D8 is 8 floats = 32 bytes per block too
                a0 = Avx512F.FusedMultiplyAdd(PackedDot.Q8Pair512(abs, neg, (sbyte*)(x8 + o), (sbyte*)(nx8 + o), (float*)(d8 + o), ones), dw, a0);
                a1 = Avx512F.FusedMultiplyAdd(PackedDot.Q8Pair512(abs, neg, (sbyte*)(x8 + s1 + o), (sbyte*)(nx8 + s1 + o), (float*)(d8 + s1 + o), ones), dw, a1);
                a2 = Avx512F.FusedMultiplyAdd(PackedDot.Q8Pair512(abs, neg, (sbyte*)(x8 + s2 + o), (sbyte*)(nx8 + s2 + o), (float*)(d8 + s2 + o), ones), dw, a2);
                a3 = Avx512F.FusedMultiplyAdd(PackedDot.Q8Pair512(abs, neg, (sbyte*)(x8 + s3 + o), (sbyte*)(nx8 + s3 + o), (float*)(d8 + s3 + o), ones), dw, a3);
            }
        }
        y[0] = Vector512.Sum(a0) + PackedDot.Q8Scalar(ws, wq, blocks, x0, b);
        y[stride] = Vector512.Sum(a1) + PackedDot.Q8Scalar(ws, wq, blocks, acts.For(t0 + 1), b);
        y[2 * stride] = Vector512.Sum(a2) + PackedDot.Q8Scalar(ws, wq, blocks, acts.For(t0 + 2), b);
        y[3 * stride] = Vector512.Sum(a3) + PackedDot.Q8Scalar(ws, wq, blocks, acts.For(t0 + 3), b);
    }

    /// <summary>Q8_0: one row × two tokens, <see cref="Q8Tile4"/>'s arithmetic and order for batches of two or three.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q8Tile2(ushort* ws, sbyte* wq, int blocks, PackedActivations acts, int t0, float* y, long stride)
    {
        var x0 = acts.For(t0);
        long s1 = acts.TokenStride8;
        byte* x8 = (byte*)x0.X8, nx8 = (byte*)x0.NX8, d8 = (byte*)x0.D8;
        Vector512<float> a0 = default, a1 = default;
        var ones = Vector512.Create((short)1);
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            Sse.Prefetch0(wq + b * 32 + 4096);
            Sse.Prefetch0(wq + b * 32 + 4096 + 64);
            var (dw01, dw23) = PackedDot.Scales8x2(ws + b);
            for (int h = 0; h < 2; h++)
            {
                var (abs, neg) = PackedDot.SignSplit(wq + b * 32 + h * 64);
                var dw = h == 0 ? dw01 : dw23;
                long o = b * 32 + h * 64;
                a0 = Avx512F.FusedMultiplyAdd(PackedDot.Q8Pair512(abs, neg, (sbyte*)(x8 + o), (sbyte*)(nx8 + o), (float*)(d8 + o), ones), dw, a0);
                a1 = Avx512F.FusedMultiplyAdd(PackedDot.Q8Pair512(abs, neg, (sbyte*)(x8 + s1 + o), (sbyte*)(nx8 + s1 + o), (float*)(d8 + s1 + o), ones), dw, a1);
            }
        }
        y[0] = Vector512.Sum(a0) + PackedDot.Q8Scalar(ws, wq, blocks, x0, b);
        y[stride] = Vector512.Sum(a1) + PackedDot.Q8Scalar(ws, wq, blocks, acts.For(t0 + 1), b);
    }
}
