using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Eurus.Cpu.Quantization;

/// <summary>
/// Scalar K-quant code: quantizers, dequantizers and the Q8_K activation quantizer, following the arithmetic of
/// ggml's reference functions (<c>quantize_row_q4_K_ref</c> and friends, the ones llama-quantize uses when no
/// importance matrix is given), so that our blocks match llama-quantize's up to float contraction differences.
/// The block layouts are documented on <see cref="BlockQ4_K"/>, <see cref="BlockQ5_K"/>, <see cref="BlockQ6_K"/>
/// and <see cref="BlockQ8_K"/>. These are the oracle for the SIMD kernels, not a hot path.
/// </summary>
public static unsafe class KQuantReference
{
    private const int QK = 256;
    private const float GroupMaxEps = 1e-15f;

    /// <summary>
    /// Round to nearest, ties to even, the way ggml does it (adding 1.5·2^23 and reading the mantissa), valid for
    /// |x| &lt; 2^22; anything larger (only reachable with non-finite or absurd inputs) is clamped first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int NearestInt(float x)
    {
        if (!(MathF.Abs(x) <= 4194303f)) x = float.IsNaN(x) ? 0 : MathF.CopySign(4194303f, x);
        float v = x + 12582912f;
        return (BitConverter.SingleToInt32Bits(v) & 0x007fffff) - 0x00400000;
    }

    /// <summary>The 6-bit scale and min of sub-block <paramref name="j"/> (0–7) from a Q4_K/Q5_K scales array.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (int Scale, int Min) ScaleMin(byte* s, int j) => j < 4
        ? (s[j] & 63, s[j + 4] & 63)
        : ((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4));

    private static void PackScaleMin(byte* s, int j, int ls, int lm)
    {
        if (j < 4)
        {
            s[j] = (byte)ls;
            s[j + 4] = (byte)lm;
        }
        else
        {
            s[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
            s[j - 4] |= (byte)((ls >> 4) << 6);
            s[j] |= (byte)((lm >> 4) << 6);
        }
    }

    // ------------------------------------------------------------------ Q4_K / Q5_K

    /// <summary>Quantizes <paramref name="x"/> (a multiple of 256 long) to Q4_K.</summary>
    public static void QuantizeQ4_K(ReadOnlySpan<float> x, Span<BlockQ4_K> y)
    {
        int nb = CheckBlocks(x.Length, y.Length);
        Span<byte> l = stackalloc byte[QK];
        for (int b = 0; b < nb; b++)
        {
            fixed (BlockQ4_K* blk = &y[b])
            {
                QuantizeScaleMinBlock(x.Slice(b * QK, QK), l, 15, -1f, 0.1f, 20, &blk->D, &blk->DMin, blk->Scales);
                for (int c = 0; c < 4; c++)
                    for (int i = 0; i < 32; i++) blk->Qs[32 * c + i] = (byte)(l[64 * c + i] | (l[64 * c + 32 + i] << 4));
            }
        }
    }

    /// <summary>Quantizes <paramref name="x"/> (a multiple of 256 long) to Q5_K.</summary>
    public static void QuantizeQ5_K(ReadOnlySpan<float> x, Span<BlockQ5_K> y)
    {
        int nb = CheckBlocks(x.Length, y.Length);
        Span<byte> l = stackalloc byte[QK];
        for (int b = 0; b < nb; b++)
        {
            fixed (BlockQ5_K* blk = &y[b])
            {
                QuantizeScaleMinBlock(x.Slice(b * QK, QK), l, 31, -0.5f, 0.1f, 15, &blk->D, &blk->DMin, blk->Scales);
                for (int i = 0; i < 32; i++) blk->Qh[i] = 0;
                for (int c = 0; c < 4; c++)
                    for (int i = 0; i < 32; i++)
                    {
                        int l1 = l[64 * c + i], l2 = l[64 * c + 32 + i];
                        if (l1 > 15) { l1 -= 16; blk->Qh[i] |= (byte)(1 << (2 * c)); }
                        if (l2 > 15) { l2 -= 16; blk->Qh[i] |= (byte)(2 << (2 * c)); }
                        blk->Qs[32 * c + i] = (byte)(l1 | (l2 << 4));
                    }
            }
        }
    }

    /// <summary>
    /// The shared part of Q4_K and Q5_K: per sub-block of 32 a weighted least-squares fit of scale and min
    /// (<see cref="FitScaleMin"/>), both quantized to 6 bits against the super-block maxima, then every element
    /// re-quantized against the rounded scales. Writes the quants (0…nmax) to <paramref name="l"/>.
    /// </summary>
    private static void QuantizeScaleMinBlock(ReadOnlySpan<float> x, Span<byte> l, int nmax, float rmin, float rdelta, int nstep,
        Half* d, Half* dmin, byte* scales)
    {
        Span<float> sc = stackalloc float[8], mins = stackalloc float[8], w = stackalloc float[32];
        Span<byte> aux = stackalloc byte[32];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            var xs = x.Slice(32 * j, 32);
            float sumX2 = 0;
            for (int i = 0; i < 32; i++) sumX2 += xs[i] * xs[i];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int i = 0; i < 32; i++) w[i] = avX + MathF.Abs(xs[i]);
            sc[j] = FitScaleMin(xs, w, nmax, l.Slice(32 * j, 32), out mins[j], aux, rmin, rdelta, nstep);
            if (sc[j] > maxScale) maxScale = sc[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int i = 0; i < 12; i++) scales[i] = 0;
        for (int j = 0; j < 8; j++)
        {
            // ggml stores nearest_int into a uint8_t before clamping: keep that wrap-around.
            int ls = Math.Min(63, (int)(byte)NearestInt(invScale * sc[j]));
            int lm = Math.Min(63, (int)(byte)NearestInt(invMin * mins[j]));
            PackScaleMin(scales, j, ls, lm);
        }
        *d = (Half)(maxScale / 63f);
        *dmin = (Half)(maxMin / 63f);
        float df = (float)*d, dminf = (float)*dmin;
        for (int j = 0; j < 8; j++)
        {
            var (s, m) = ScaleMin(scales, j);
            float dd = df * s;
            if (dd == 0) continue;
            float dm = dminf * m;
            for (int i = 0; i < 32; i++)
                l[32 * j + i] = (byte)Math.Clamp(NearestInt((x[32 * j + i] + dm) / dd), 0, nmax);
        }
    }

    /// <summary>
    /// Fits x ≈ scale·q − min with q in 0…nmax, minimising the weighted squared error: a first guess from the range,
    /// then <paramref name="nstep"/>+1 trial inverse scales around nmax/range, each followed by the closed-form
    /// least-squares scale and min for its quants (ggml's <c>make_qkx2_quants</c> search). Returns the scale.
    /// </summary>
    private static float FitScaleMin(ReadOnlySpan<float> x, ReadOnlySpan<float> w, int nmax, Span<byte> l, out float theMin,
        Span<byte> aux, float rmin, float rdelta, int nstep)
    {
        int n = x.Length;
        float min = x[0], max = x[0];
        float sumW = w[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            sumW += w[i];
            sumX += w[i] * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            l.Clear();
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            l[i] = (byte)Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
            float diff = scale * l[i] + min - x[i];
            bestError += w[i] * (diff * diff);
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int q = Math.Clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
                aux[i] = (byte)q;
                sumL += w[i] * q;
                sumL2 += w[i] * q * q;
                sumXL += w[i] * q * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float err = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * aux[i] + thisMin - x[i];
                    err += w[i] * (diff * diff);
                }
                if (err < bestError)
                {
                    aux[..n].CopyTo(l);
                    bestError = err;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>Dequantizes Q4_K blocks to floats.</summary>
    public static void DequantizeQ4_K(ReadOnlySpan<BlockQ4_K> x, Span<float> y)
    {
        CheckBlocks(y.Length, x.Length);
        for (int b = 0; b < x.Length; b++)
            fixed (BlockQ4_K* blk = &x[b])
            {
                float d = (float)blk->D, dmin = (float)blk->DMin;
                for (int j = 0; j < 8; j++)
                {
                    var (s, m) = ScaleMin(blk->Scales, j);
                    float d1 = d * s, m1 = dmin * m;
                    int c = j / 2, shift = 4 * (j % 2);
                    for (int i = 0; i < 32; i++) y[b * QK + 32 * j + i] = d1 * ((blk->Qs[32 * c + i] >> shift) & 0xF) - m1;
                }
            }
    }

    /// <summary>Dequantizes Q5_K blocks to floats.</summary>
    public static void DequantizeQ5_K(ReadOnlySpan<BlockQ5_K> x, Span<float> y)
    {
        CheckBlocks(y.Length, x.Length);
        for (int b = 0; b < x.Length; b++)
            fixed (BlockQ5_K* blk = &x[b])
            {
                float d = (float)blk->D, dmin = (float)blk->DMin;
                for (int j = 0; j < 8; j++)
                {
                    var (s, m) = ScaleMin(blk->Scales, j);
                    float d1 = d * s, m1 = dmin * m;
                    int c = j / 2, shift = 4 * (j % 2);
                    for (int i = 0; i < 32; i++)
                    {
                        int q = ((blk->Qs[32 * c + i] >> shift) & 0xF) | (((blk->Qh[i] >> j) & 1) << 4);
                        y[b * QK + 32 * j + i] = d1 * q - m1;
                    }
                }
            }
    }

    // ------------------------------------------------------------------ Q6_K

    /// <summary>Quantizes <paramref name="x"/> (a multiple of 256 long) to Q6_K.</summary>
    public static void QuantizeQ6_K(ReadOnlySpan<float> x, Span<BlockQ6_K> y)
    {
        int nb = CheckBlocks(x.Length, y.Length);
        Span<sbyte> l = stackalloc sbyte[QK];
        Span<float> scales = stackalloc float[16];
        for (int b = 0; b < nb; b++)
        {
            var xb = x.Slice(b * QK, QK);
            float maxScale = 0, maxAbsScale = 0;
            for (int j = 0; j < 16; j++)
            {
                scales[j] = FitSymmetric(xb.Slice(16 * j, 16), 32, l.Slice(16 * j, 16));
                if (MathF.Abs(scales[j]) > maxAbsScale) { maxAbsScale = MathF.Abs(scales[j]); maxScale = scales[j]; }
            }
            fixed (BlockQ6_K* blk = &y[b])
            {
                if (maxAbsScale < GroupMaxEps)
                {
                    new Span<byte>(blk, BlockQ6_K.Bytes).Clear();
                    continue;
                }
                float iscale = -128f / maxScale;
                blk->D = (Half)(1 / iscale);
                for (int j = 0; j < 16; j++) blk->Scales[j] = (sbyte)Math.Min(127, NearestInt(iscale * scales[j]));
                float d = (float)blk->D;
                for (int j = 0; j < 16; j++)
                {
                    float dd = d * blk->Scales[j];
                    if (dd == 0) continue;
                    for (int i = 0; i < 16; i++)
                        l[16 * j + i] = (sbyte)(Math.Clamp(NearestInt(xb[16 * j + i] / dd), -32, 31) + 32);
                }
                for (int h = 0; h < 2; h++)
                {
                    byte* ql = blk->Ql + 64 * h;
                    byte* qh = blk->Qh + 32 * h;
                    var lh = l.Slice(128 * h, 128);
                    for (int i = 0; i < 32; i++)
                    {
                        int q1 = lh[i], q2 = lh[i + 32], q3 = lh[i + 64], q4 = lh[i + 96];
                        ql[i] = (byte)((q1 & 0xF) | ((q3 & 0xF) << 4));
                        ql[i + 32] = (byte)((q2 & 0xF) | ((q4 & 0xF) << 4));
                        qh[i] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
                    }
                }
            }
        }
    }

    /// <summary>
    /// Symmetric fit x ≈ scale·(q − nmax) with q in 0…2·nmax−1, weighted by x² (ggml's <c>make_qx_quants</c> with
    /// rmse_type 1): the signed extreme maps to −nmax, then 18 nearby inverse scales are tried and the one with the
    /// best weighted least-squares fit is kept. Writes q to <paramref name="l"/>, returns the scale.
    /// </summary>
    private static float FitSymmetric(ReadOnlySpan<float> x, int nmax, Span<sbyte> l)
    {
        int n = x.Length;
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            l.Clear();
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++)
        {
            int q = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
            l[i] = (sbyte)(q + nmax);
            float w = x[i] * x[i];
            sumLX += w * x[i] * q;
            sumL2 += w * q * q;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0f;
        float best = scale * sumLX;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumLX = sumL2 = 0;
            for (int i = 0; i < n; i++)
            {
                int q = Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
                float w = x[i] * x[i];
                sumLX += w * x[i] * q;
                sumL2 += w * q * q;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2)
            {
                for (int i = 0; i < n; i++) l[i] = (sbyte)(nmax + Math.Clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1));
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    /// <summary>Dequantizes Q6_K blocks to floats.</summary>
    public static void DequantizeQ6_K(ReadOnlySpan<BlockQ6_K> x, Span<float> y)
    {
        CheckBlocks(y.Length, x.Length);
        for (int b = 0; b < x.Length; b++)
            fixed (BlockQ6_K* blk = &x[b])
            {
                float d = (float)blk->D;
                for (int i = 0; i < QK; i++) y[b * QK + i] = d * blk->Scales[i / 16] * (Q6(blk, i) - 32);
            }
    }

    /// <summary>The 6-bit quant (0…63) of element <paramref name="i"/> of a Q6_K block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Q6(BlockQ6_K* blk, int i)
    {
        int h = i / 128, e = i % 128, quarter = e / 32, l = e % 32;
        byte ql = blk->Ql[64 * h + l + 32 * (quarter & 1)];
        int low = quarter < 2 ? ql & 0xF : ql >> 4;
        int high = (blk->Qh[32 * h + l] >> (2 * quarter)) & 3;
        return low | (high << 4);
    }

    // ------------------------------------------------------------------ Q8_K

    /// <summary>
    /// Quantizes activations to Q8_K: the signed extreme of each 256 maps to −127 (ggml's
    /// <c>quantize_row_q8_K_ref</c>), d is kept as a float, and the 16-element sums are stored.
    /// </summary>
    public static void QuantizeQ8_K(ReadOnlySpan<float> x, Span<BlockQ8_K> y)
    {
        int nb = CheckBlocks(x.Length, y.Length);
        for (int b = 0; b < nb; b++)
            fixed (BlockQ8_K* blk = &y[b])
                QuantizeQ8_K(x.Slice(b * QK, QK), blk);
    }

    /// <summary>One block of <see cref="QuantizeQ8_K(ReadOnlySpan{float}, Span{BlockQ8_K})"/>.</summary>
    internal static void QuantizeQ8_K(ReadOnlySpan<float> x, BlockQ8_K* blk)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < QK; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax == 0)
        {
            new Span<byte>(blk, BlockQ8_K.Bytes).Clear();
            return;
        }
        float iscale = -127f / max;
        for (int i = 0; i < QK; i++) blk->Qs[i] = (sbyte)Math.Min(127, NearestInt(iscale * x[i]));
        for (int j = 0; j < 16; j++)
        {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += blk->Qs[16 * j + i];
            blk->BSums[j] = (short)sum;
        }
        blk->D = 1 / iscale;
    }

    /// <summary>Dequantizes Q8_K blocks to floats.</summary>
    public static void DequantizeQ8_K(ReadOnlySpan<BlockQ8_K> x, Span<float> y)
    {
        CheckBlocks(y.Length, x.Length);
        for (int b = 0; b < x.Length; b++)
            fixed (BlockQ8_K* blk = &x[b])
                for (int i = 0; i < QK; i++) y[b * QK + i] = blk->D * blk->Qs[i];
    }

    /// <summary>Quantizes floats to a K-quant (Q4_K, Q5_K or Q6_K) and returns the raw bytes (for writers and tests).</summary>
    public static byte[] Quantize(Gguf.GgmlType type, ReadOnlySpan<float> x)
    {
        var bytes = new byte[Gguf.GgmlTypeInfo.RowBytes(type, x.Length)];
        switch (type)
        {
            case Gguf.GgmlType.Q4_K: QuantizeQ4_K(x, MemoryMarshal.Cast<byte, BlockQ4_K>(bytes.AsSpan())); break;
            case Gguf.GgmlType.Q5_K: QuantizeQ5_K(x, MemoryMarshal.Cast<byte, BlockQ5_K>(bytes.AsSpan())); break;
            case Gguf.GgmlType.Q6_K: QuantizeQ6_K(x, MemoryMarshal.Cast<byte, BlockQ6_K>(bytes.AsSpan())); break;
            default: throw new NotSupportedException($"{type} is not a K-quant weight type.");
        }
        return bytes;
    }

    private static int CheckBlocks(int elements, int blocks)
    {
        if (elements % QK != 0) throw new ArgumentException($"Length {elements} is not a multiple of {QK} (K-quant super-block).");
        if (blocks < elements / QK) throw new ArgumentException($"{blocks} super-blocks cannot hold {elements} elements.");
        return elements / QK;
    }
}
