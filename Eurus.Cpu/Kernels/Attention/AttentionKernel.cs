using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// One attention head's two loops over cached positions, on F32 keys and values stored <c>stride</c> floats apart:
/// scores[j] = (q · k_j)·scale and out += Σ_j p_j·v_j. Per position the work is a 128-float dot product — too small
/// for a library call each (the call and span overhead cost more than the arithmetic in a 512-token prompt) — so the
/// loops run here with the head vector's lanes in registers: four keys at a time for the scores (eight on the 512-bit
/// path), the output's lanes accumulated across all positions for the values. Paths: Vector512, Vector256, Vector128 (head sizes that are a
/// multiple of the width) and the scalar reference; each tested against it.
/// </summary>
internal static unsafe class AttentionKernel
{
    /// <summary>scores[j] = (q · keys[j·stride …]) · scale for j &lt; count.</summary>
    public static void Scores(float* q, float* keys, int stride, int count, int hd, float scale, float* scores)
    {
        if (Vector512.IsHardwareAccelerated && hd % 16 == 0) Scores512(q, keys, stride, count, hd, scale, scores);
        else if (Vector256.IsHardwareAccelerated && hd % 8 == 0) Scores256(q, keys, stride, count, hd, scale, scores);
        else if (Vector128.IsHardwareAccelerated && hd % 4 == 0) Scores128(q, keys, stride, count, hd, scale, scores);
        else ScoresScalar(q, keys, stride, count, hd, scale, scores);
    }

    /// <summary>out[i] += Σ_j p[j] · values[j·stride + i] for i &lt; hd, positions in order.</summary>
    public static void Accumulate(float* p, float* values, int stride, int count, int hd, float* output)
    {
        if (Vector512.IsHardwareAccelerated && hd % 16 == 0) Accumulate512(p, values, stride, count, hd, output);
        else if (Vector256.IsHardwareAccelerated && hd % 8 == 0) Accumulate256(p, values, stride, count, hd, output);
        else if (Vector128.IsHardwareAccelerated && hd % 4 == 0) Accumulate128(p, values, stride, count, hd, output);
        else AccumulateScalar(p, values, stride, count, hd, output);
    }

    public static void ScoresScalar(float* q, float* keys, int stride, int count, int hd, float scale, float* scores)
    {
        for (int j = 0; j < count; j++)
        {
            float* k = keys + (long)j * stride;
            float s = 0;
            for (int i = 0; i < hd; i++) s += q[i] * k[i];
            scores[j] = s * scale;
        }
    }

    public static void AccumulateScalar(float* p, float* values, int stride, int count, int hd, float* output)
    {
        for (int j = 0; j < count; j++)
        {
            float* v = values + (long)j * stride;
            for (int i = 0; i < hd; i++) output[i] += p[j] * v[i];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores512(float* q, float* keys, int stride, int count, int hd, float scale, float* scores)
    {
        int j = 0;
        // Eight keys per step keep eight independent multiply-add chains in flight (four left the FMA units half idle);
        // each key's arithmetic is the same in the step and in the one-key loop after it, so the grouping changes no score.
        for (; j + 8 <= count; j += 8)
        {
            float* k0 = keys + (long)j * stride;
            float* k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride, k4 = k3 + stride, k5 = k4 + stride, k6 = k5 + stride, k7 = k6 + stride;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (int i = 0; i < hd; i += 16)
            {
                var qv = Vector512.Load(q + i);
                a0 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(k0 + i), a0);
                a1 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(k1 + i), a1);
                a2 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(k2 + i), a2);
                a3 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(k3 + i), a3);
                a4 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(k4 + i), a4);
                a5 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(k5 + i), a5);
                a6 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(k6 + i), a6);
                a7 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(k7 + i), a7);
            }
            scores[j] = Vector512.Sum(a0) * scale;
            scores[j + 1] = Vector512.Sum(a1) * scale;
            scores[j + 2] = Vector512.Sum(a2) * scale;
            scores[j + 3] = Vector512.Sum(a3) * scale;
            scores[j + 4] = Vector512.Sum(a4) * scale;
            scores[j + 5] = Vector512.Sum(a5) * scale;
            scores[j + 6] = Vector512.Sum(a6) * scale;
            scores[j + 7] = Vector512.Sum(a7) * scale;
        }
        for (; j < count; j++)
        {
            float* k = keys + (long)j * stride;
            var a = Vector512<float>.Zero;
            for (int i = 0; i < hd; i += 16) a = Vector512.FusedMultiplyAdd(Vector512.Load(q + i), Vector512.Load(k + i), a);
            scores[j] = Vector512.Sum(a) * scale;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores256(float* q, float* keys, int stride, int count, int hd, float scale, float* scores)
    {
        int j = 0;
        for (; j + 4 <= count; j += 4)
        {
            float* k0 = keys + (long)j * stride;
            float* k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < hd; i += 8)
            {
                var qv = Vector256.Load(q + i);
                a0 = Vector256.FusedMultiplyAdd(qv, Vector256.Load(k0 + i), a0);
                a1 = Vector256.FusedMultiplyAdd(qv, Vector256.Load(k1 + i), a1);
                a2 = Vector256.FusedMultiplyAdd(qv, Vector256.Load(k2 + i), a2);
                a3 = Vector256.FusedMultiplyAdd(qv, Vector256.Load(k3 + i), a3);
            }
            scores[j] = Vector256.Sum(a0) * scale;
            scores[j + 1] = Vector256.Sum(a1) * scale;
            scores[j + 2] = Vector256.Sum(a2) * scale;
            scores[j + 3] = Vector256.Sum(a3) * scale;
        }
        for (; j < count; j++)
        {
            float* k = keys + (long)j * stride;
            var a = Vector256<float>.Zero;
            for (int i = 0; i < hd; i += 8) a = Vector256.FusedMultiplyAdd(Vector256.Load(q + i), Vector256.Load(k + i), a);
            scores[j] = Vector256.Sum(a) * scale;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores128(float* q, float* keys, int stride, int count, int hd, float scale, float* scores)
    {
        for (int j = 0; j < count; j++)
        {
            float* k = keys + (long)j * stride;
            var a = Vector128<float>.Zero;
            for (int i = 0; i < hd; i += 4) a = Vector128.FusedMultiplyAdd(Vector128.Load(q + i), Vector128.Load(k + i), a);
            scores[j] = Vector128.Sum(a) * scale;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate512(float* p, float* values, int stride, int count, int hd, float* output)
    {
        // 128 (then 64) lanes of the output at a time stay in registers across all positions: eight independent
        // chains per position; each lane's chain is the same whatever the step, so the results are too.
        int i = 0;
        for (; i + 128 <= hd; i += 128)
        {
            var o0 = Vector512.Load(output + i); var o1 = Vector512.Load(output + i + 16);
            var o2 = Vector512.Load(output + i + 32); var o3 = Vector512.Load(output + i + 48);
            var o4 = Vector512.Load(output + i + 64); var o5 = Vector512.Load(output + i + 80);
            var o6 = Vector512.Load(output + i + 96); var o7 = Vector512.Load(output + i + 112);
            for (int j = 0; j < count; j++)
            {
                float* v = values + (long)j * stride + i;
                var pj = Vector512.Create(p[j]);
                o0 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v), o0);
                o1 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 16), o1);
                o2 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 32), o2);
                o3 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 48), o3);
                o4 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 64), o4);
                o5 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 80), o5);
                o6 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 96), o6);
                o7 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 112), o7);
            }
            o0.Store(output + i); o1.Store(output + i + 16); o2.Store(output + i + 32); o3.Store(output + i + 48);
            o4.Store(output + i + 64); o5.Store(output + i + 80); o6.Store(output + i + 96); o7.Store(output + i + 112);
        }
        for (; i + 64 <= hd; i += 64)
        {
            var o0 = Vector512.Load(output + i); var o1 = Vector512.Load(output + i + 16);
            var o2 = Vector512.Load(output + i + 32); var o3 = Vector512.Load(output + i + 48);
            for (int j = 0; j < count; j++)
            {
                float* v = values + (long)j * stride + i;
                var pj = Vector512.Create(p[j]);
                o0 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v), o0);
                o1 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 16), o1);
                o2 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 32), o2);
                o3 = Vector512.FusedMultiplyAdd(pj, Vector512.Load(v + 48), o3);
            }
            o0.Store(output + i); o1.Store(output + i + 16); o2.Store(output + i + 32); o3.Store(output + i + 48);
        }
        for (; i < hd; i += 16)
        {
            var o = Vector512.Load(output + i);
            for (int j = 0; j < count; j++) o = Vector512.FusedMultiplyAdd(Vector512.Create(p[j]), Vector512.Load(values + (long)j * stride + i), o);
            o.Store(output + i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate256(float* p, float* values, int stride, int count, int hd, float* output)
    {
        int i = 0;
        for (; i + 32 <= hd; i += 32)
        {
            var o0 = Vector256.Load(output + i); var o1 = Vector256.Load(output + i + 8);
            var o2 = Vector256.Load(output + i + 16); var o3 = Vector256.Load(output + i + 24);
            for (int j = 0; j < count; j++)
            {
                float* v = values + (long)j * stride + i;
                var pj = Vector256.Create(p[j]);
                o0 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(v), o0);
                o1 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(v + 8), o1);
                o2 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(v + 16), o2);
                o3 = Vector256.FusedMultiplyAdd(pj, Vector256.Load(v + 24), o3);
            }
            o0.Store(output + i); o1.Store(output + i + 8); o2.Store(output + i + 16); o3.Store(output + i + 24);
        }
        for (; i < hd; i += 8)
        {
            var o = Vector256.Load(output + i);
            for (int j = 0; j < count; j++) o = Vector256.FusedMultiplyAdd(Vector256.Create(p[j]), Vector256.Load(values + (long)j * stride + i), o);
            o.Store(output + i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate128(float* p, float* values, int stride, int count, int hd, float* output)
    {
        for (int i = 0; i < hd; i += 4)
        {
            var o = Vector128.Load(output + i);
            for (int j = 0; j < count; j++) o = Vector128.FusedMultiplyAdd(Vector128.Create(p[j]), Vector128.Load(values + (long)j * stride + i), o);
            o.Store(output + i);
        }
    }
}
