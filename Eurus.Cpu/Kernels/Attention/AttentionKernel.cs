using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// One attention head's two loops over cached positions, on F32 keys and values stored <c>stride</c> floats apart:
/// scores[j] = (q · k_j)·scale and out += Σ_j p_j·v_j. Per position the work is a 128-float dot product — too small
/// for a library call each (the call and span overhead cost more than the arithmetic in a 512-token prompt) — so the
/// loops run here with the head vector's lanes in registers: eight keys at a time for the scores, eight vectors of the
/// output accumulated across all positions for the values. Each loop is written once over an <see cref="IFloatLanes{TVector}"/>
/// width (Vector512, Vector256, Vector128: head sizes that are a multiple of the width) and tested, per width, against
/// the scalar reference.
/// </summary>
internal static unsafe class AttentionKernel
{
    /// <summary>scores[j] = (q · keys[j·stride …]) · scale for j &lt; count.</summary>
    public static void Scores(float* q, float* keys, int stride, int count, int hd, float scale, float* scores)
    {
        if (Lanes512.IsAccelerated && hd % 16 == 0) Scores<Lanes512, Vector512<float>>(q, keys, stride, count, hd, scale, scores);
        else if (Lanes256.IsAccelerated && hd % 8 == 0) Scores<Lanes256, Vector256<float>>(q, keys, stride, count, hd, scale, scores);
        else if (Lanes128.IsAccelerated && hd % 4 == 0) Scores<Lanes128, Vector128<float>>(q, keys, stride, count, hd, scale, scores);
        else ScoresScalar(q, keys, stride, count, hd, scale, scores);
    }

    /// <summary>out[i] += Σ_j p[j] · values[j·stride + i] for i &lt; hd, positions in order.</summary>
    public static void Accumulate(float* p, float* values, int stride, int count, int hd, float* output)
    {
        if (Lanes512.IsAccelerated && hd % 16 == 0) Accumulate<Lanes512, Vector512<float>>(p, values, stride, count, hd, output);
        else if (Lanes256.IsAccelerated && hd % 8 == 0) Accumulate<Lanes256, Vector256<float>>(p, values, stride, count, hd, output);
        else if (Lanes128.IsAccelerated && hd % 4 == 0) Accumulate<Lanes128, Vector128<float>>(p, values, stride, count, hd, output);
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

    /// <summary>
    /// <see cref="Scores"/> at one vector width. Eight keys per step keep eight independent multiply-add chains in flight
    /// (fewer left the FMA units half idle); each key's arithmetic is the same in the step and in the one-key loop after
    /// it, so the grouping changes no score.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores<TLanes, TVector>(float* q, float* keys, int stride, int count, int hd, float scale, float* scores)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        int w = TLanes.Count;
        int j = 0;
        for (; j + 8 <= count; j += 8)
        {
            float* k0 = keys + (long)j * stride;
            float* k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride, k4 = k3 + stride, k5 = k4 + stride, k6 = k5 + stride, k7 = k6 + stride;
            TVector a0 = TLanes.Zero, a1 = TLanes.Zero, a2 = TLanes.Zero, a3 = TLanes.Zero, a4 = TLanes.Zero, a5 = TLanes.Zero, a6 = TLanes.Zero, a7 = TLanes.Zero;
            for (int i = 0; i < hd; i += w)
            {
                var qv = TLanes.Load(q + i);
                a0 = TLanes.FusedMultiplyAdd(qv, TLanes.Load(k0 + i), a0);
                a1 = TLanes.FusedMultiplyAdd(qv, TLanes.Load(k1 + i), a1);
                a2 = TLanes.FusedMultiplyAdd(qv, TLanes.Load(k2 + i), a2);
                a3 = TLanes.FusedMultiplyAdd(qv, TLanes.Load(k3 + i), a3);
                a4 = TLanes.FusedMultiplyAdd(qv, TLanes.Load(k4 + i), a4);
                a5 = TLanes.FusedMultiplyAdd(qv, TLanes.Load(k5 + i), a5);
                a6 = TLanes.FusedMultiplyAdd(qv, TLanes.Load(k6 + i), a6);
                a7 = TLanes.FusedMultiplyAdd(qv, TLanes.Load(k7 + i), a7);
            }
            scores[j] = TLanes.Sum(a0) * scale;
            scores[j + 1] = TLanes.Sum(a1) * scale;
            scores[j + 2] = TLanes.Sum(a2) * scale;
            scores[j + 3] = TLanes.Sum(a3) * scale;
            scores[j + 4] = TLanes.Sum(a4) * scale;
            scores[j + 5] = TLanes.Sum(a5) * scale;
            scores[j + 6] = TLanes.Sum(a6) * scale;
            scores[j + 7] = TLanes.Sum(a7) * scale;
        }
        for (; j < count; j++)
        {
            float* k = keys + (long)j * stride;
            var a = TLanes.Zero;
            for (int i = 0; i < hd; i += w) a = TLanes.FusedMultiplyAdd(TLanes.Load(q + i), TLanes.Load(k + i), a);
            scores[j] = TLanes.Sum(a) * scale;
        }
    }

    /// <summary>
    /// <see cref="Accumulate"/> at one vector width: eight (then four, then one) vectors of the output stay in registers
    /// across all positions — independent chains per position; each lane's chain is the same whatever the step, so the
    /// results are too.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate<TLanes, TVector>(float* p, float* values, int stride, int count, int hd, float* output)
        where TLanes : struct, IFloatLanes<TVector> where TVector : struct
    {
        int w = TLanes.Count;
        int i = 0;
        for (; i + 8 * w <= hd; i += 8 * w)
        {
            float* o = output + i;
            TVector o0 = TLanes.Load(o), o1 = TLanes.Load(o + w), o2 = TLanes.Load(o + 2 * w), o3 = TLanes.Load(o + 3 * w);
            TVector o4 = TLanes.Load(o + 4 * w), o5 = TLanes.Load(o + 5 * w), o6 = TLanes.Load(o + 6 * w), o7 = TLanes.Load(o + 7 * w);
            for (int j = 0; j < count; j++)
            {
                float* v = values + (long)j * stride + i;
                var pj = TLanes.Broadcast(p[j]);
                o0 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v), o0);
                o1 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v + w), o1);
                o2 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v + 2 * w), o2);
                o3 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v + 3 * w), o3);
                o4 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v + 4 * w), o4);
                o5 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v + 5 * w), o5);
                o6 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v + 6 * w), o6);
                o7 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v + 7 * w), o7);
            }
            TLanes.Store(o0, o); TLanes.Store(o1, o + w); TLanes.Store(o2, o + 2 * w); TLanes.Store(o3, o + 3 * w);
            TLanes.Store(o4, o + 4 * w); TLanes.Store(o5, o + 5 * w); TLanes.Store(o6, o + 6 * w); TLanes.Store(o7, o + 7 * w);
        }
        for (; i + 4 * w <= hd; i += 4 * w)
        {
            float* o = output + i;
            TVector o0 = TLanes.Load(o), o1 = TLanes.Load(o + w), o2 = TLanes.Load(o + 2 * w), o3 = TLanes.Load(o + 3 * w);
            for (int j = 0; j < count; j++)
            {
                float* v = values + (long)j * stride + i;
                var pj = TLanes.Broadcast(p[j]);
                o0 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v), o0);
                o1 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v + w), o1);
                o2 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v + 2 * w), o2);
                o3 = TLanes.FusedMultiplyAdd(pj, TLanes.Load(v + 3 * w), o3);
            }
            TLanes.Store(o0, o); TLanes.Store(o1, o + w); TLanes.Store(o2, o + 2 * w); TLanes.Store(o3, o + 3 * w);
        }
        for (; i < hd; i += w)
        {
            var o = TLanes.Load(output + i);
            for (int j = 0; j < count; j++) o = TLanes.FusedMultiplyAdd(TLanes.Broadcast(p[j]), TLanes.Load(values + (long)j * stride + i), o);
            TLanes.Store(o, output + i);
        }
    }
}
