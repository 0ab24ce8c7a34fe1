using Eurus.Cpu.Model;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// softmax(q·Kᵀ·scale)·V of one query head (or of the query heads that share a KV head) over the positions of a
/// <see cref="KvCache"/>: the cache only stores, this computes. Positions map to ring-buffer slots, so a range is at
/// most two contiguous runs of slots; every guard in front of the pointer loops is computed in <see langword="long"/>.
/// </summary>
internal static unsafe class CachedAttention
{
    /// <summary>
    /// One head's attention for one query: <paramref name="output"/> = softmax(q·Kᵀ·scale)·V over positions
    /// <paramref name="first"/>…first + count − 1 of <paramref name="layer"/>, the head's slice starting at
    /// <paramref name="kvOffset"/> of each cached vector. <paramref name="scores"/> (count long) receives the weights;
    /// <paramref name="scratch"/> (hd long) holds converted F16 rows. Decoding and prompts attend through here.
    /// </summary>
    public static void Attend(KvCache cache, int layer, int first, int count, int kvOffset, int hd, ReadOnlySpan<float> q, float scale,
        Span<float> scores, Span<float> output, Span<float> scratch)
    {
        if (count < 1 || (uint)count > (uint)cache.Capacity || first < 0 || hd != cache.HeadDim || kvOffset % cache.HeadDim != 0 || (uint)kvOffset >= (uint)cache.KvDim
            || q.Length < hd || (uint)layer >= (uint)cache.Layers)
            throw new ArgumentOutOfRangeException(nameof(count), $"attention over positions {first}..+{count} of layer {layer} at offset {kvOffset} does not fit the cache.");
        scores = scores[..count];
        output = output[..hd];
        if (cache.KeysF32(layer) is null)
        {
            for (int j = 0; j < count; j++)
                scores[j] = System.Numerics.Tensors.TensorPrimitives.Dot(q[..hd], cache.Key(layer, first + j, kvOffset, hd, scratch)) * scale;
            Ops.Softmax(scores);
            output.Clear();
            for (int j = 0; j < count; j++)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(cache.Value(layer, first + j, kvOffset, hd, scratch), scores[j], output, output);
            return;
        }
        // Positions map to slots p mod capacity: at most two contiguous runs of slots, each head's rows back to back.
        int s0 = cache.Slot(first), n1 = Math.Min(count, cache.Capacity - s0);
        long headStart = cache.HeadStart(kvOffset);
        fixed (float* pk = cache.KeysF32(layer), pv = cache.ValuesF32(layer), pq = q, ps = scores, po = output)
        {
            AttentionKernel.Scores(pq, pk + headStart + (long)s0 * hd, hd, n1, hd, scale, ps);
            if (n1 < count) AttentionKernel.Scores(pq, pk + headStart, hd, count - n1, hd, scale, ps + n1);
            Ops.Softmax(scores);
            output.Clear();
            AttentionKernel.Accumulate(ps, pv + headStart + (long)s0 * hd, hd, n1, hd, po);
            if (n1 < count) AttentionKernel.Accumulate(ps + n1, pv + headStart, hd, count - n1, hd, po);
        }
    }

    /// <summary>Positions per block of <see cref="AttendGroup"/> (a block's keys, 32 KiB at head size 128, stay in L1).</summary>
    private const int GroupBlock = 64;

    /// <summary>
    /// <see cref="Attend"/> for the <paramref name="heads"/> query heads that share the KV head at
    /// <paramref name="kvOffset"/> (grouped-query attention), each head's result bit for bit what <see cref="Attend"/>
    /// gives it: positions go in blocks of 64, every head's scores (then weighted values) for a block before the next
    /// block, so a prompt reads each key and value row from L2 once per token rather than once per head. The heads'
    /// queries and outputs are consecutive (<paramref name="q"/>, <paramref name="output"/>: heads × hd), their scores
    /// <paramref name="scoreStride"/> apart. F16 caches go head by head through <see cref="Attend"/>.
    /// </summary>
    public static void AttendGroup(KvCache cache, int layer, int first, int count, int kvOffset, int hd, int heads, ReadOnlySpan<float> q, float scale,
        Span<float> scores, int scoreStride, Span<float> output, Span<float> scratch)
    {
        if (heads < 1 || hd < 1 || count < 1 || q.Length < (long)heads * hd || output.Length < (long)heads * hd || scoreStride < count
            || scores.Length < (long)(heads - 1) * scoreStride + count)
            throw new ArgumentOutOfRangeException(nameof(heads), $"{heads} heads of {hd} with {count} scores {scoreStride} apart do not fit the buffers given.");
        if (cache.KeysF32(layer) is null || heads == 1)
        {
            for (int g = 0; g < heads; g++)
                Attend(cache, layer, first, count, kvOffset, hd, q.Slice(g * hd, hd), scale, scores.Slice(g * scoreStride, count), output.Slice(g * hd, hd), scratch);
            return;
        }
        if (hd != cache.HeadDim || kvOffset % cache.HeadDim != 0 || (uint)kvOffset >= (uint)cache.KvDim || (uint)count > (uint)cache.Capacity || first < 0
            || (uint)layer >= (uint)cache.Layers)
            throw new ArgumentOutOfRangeException(nameof(count), $"attention over positions {first}..+{count} of layer {layer} at offset {kvOffset} does not fit the cache.");
        // The same two runs of slots as Attend, each cut into blocks at multiples of 64 from its start (each key's score
        // is the same arithmetic whichever step of the kernel takes it, and the cuts keep the steps' alignment anyway;
        // the value loop carries the output through memory between calls, in position order).
        int s0 = cache.Slot(first), n1 = Math.Min(count, cache.Capacity - s0);
        long headStart = cache.HeadStart(kvOffset);
        fixed (float* pk = cache.KeysF32(layer), pv = cache.ValuesF32(layer), pq = q, ps = scores, po = output)
        {
            for (int run = 0; run < 2; run++)
            {
                int slot = run == 0 ? s0 : 0, at = run == 0 ? 0 : n1, len = run == 0 ? n1 : count - n1;
                for (int j = 0; j < len; j += GroupBlock)
                {
                    int m = Math.Min(GroupBlock, len - j);
                    for (int g = 0; g < heads; g++)
                        AttentionKernel.Scores(pq + g * hd, pk + headStart + (long)(slot + j) * hd, hd, m, hd, scale, ps + (long)g * scoreStride + at + j);
                }
            }
            for (int g = 0; g < heads; g++)
            {
                Ops.Softmax(scores.Slice(g * scoreStride, count));
                output.Slice(g * hd, hd).Clear();
            }
            for (int run = 0; run < 2; run++)
            {
                int slot = run == 0 ? s0 : 0, at = run == 0 ? 0 : n1, len = run == 0 ? n1 : count - n1;
                for (int j = 0; j < len; j += GroupBlock)
                {
                    int m = Math.Min(GroupBlock, len - j);
                    for (int g = 0; g < heads; g++)
                        AttentionKernel.Accumulate(ps + (long)g * scoreStride + at + j, pv + headStart + (long)(slot + j) * hd, hd, m, hd, po + g * hd);
                }
            }
        }
    }
}
