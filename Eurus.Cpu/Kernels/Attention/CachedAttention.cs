using System.Runtime.InteropServices;
using Eurus.Cpu.Model;
using Eurus.Cpu.Quantization;

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
    /// <paramref name="scratch"/> (<see cref="ScratchLength"/> long) holds an F16 cache's rows converted to floats.
    /// Decoding and prompts attend through here.
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
            AttendHalf(cache, layer, first, count, kvOffset, hd, 1, q[..hd], scale, scores, count, output, scratch);
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
    /// <paramref name="scoreStride"/> apart.
    /// </summary>
    public static void AttendGroup(KvCache cache, int layer, int first, int count, int kvOffset, int hd, int heads, ReadOnlySpan<float> q, float scale,
        Span<float> scores, int scoreStride, Span<float> output, Span<float> scratch)
    {
        if (heads < 1 || hd < 1 || count < 1 || q.Length < (long)heads * hd || output.Length < (long)heads * hd || scoreStride < count
            || scores.Length < (long)(heads - 1) * scoreStride + count)
            throw new ArgumentOutOfRangeException(nameof(heads), $"{heads} heads of {hd} with {count} scores {scoreStride} apart do not fit the buffers given.");
        if (cache.KeysF32(layer) is null)
        {
            AttendHalf(cache, layer, first, count, kvOffset, hd, heads, q, scale, scores, scoreStride, output, scratch);
            return;
        }
        if (heads == 1)
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

    /// <summary>Positions of an F16 cache converted to floats at a time (a block of 32 rows of 128 is 16 KiB).</summary>
    private const int HalfBlock = 32;

    /// <summary>Floats of scratch <see cref="Attend"/> and <see cref="AttendGroup"/> need for <paramref name="heads"/> heads of <paramref name="hd"/>.</summary>
    public static int ScratchLength(int hd, int heads) => checked((heads + HalfBlock) * hd);

    /// <summary>
    /// Attention over an F16 cache with ggml's roundings (its <c>mul_mat</c> converts the F32 operand to the F16 one's
    /// type): each query is rounded to F16 before q·k, the softmax weights to F16 before they weight the values. Rows are
    /// converted to floats <see cref="HalfBlock"/> positions at a time and go through the F32 loops, so one token's
    /// query heads share each conversion and every head gets what it would get alone, bit for bit.
    /// </summary>
    private static void AttendHalf(KvCache cache, int layer, int first, int count, int kvOffset, int hd, int heads, ReadOnlySpan<float> q, float scale,
        Span<float> scores, int scoreStride, Span<float> output, Span<float> scratch)
    {
        if (hd != cache.HeadDim || kvOffset % cache.HeadDim != 0 || (uint)kvOffset >= (uint)cache.KvDim || (uint)count > (uint)cache.Capacity || first < 0
            || (uint)layer >= (uint)cache.Layers)
            throw new ArgumentOutOfRangeException(nameof(count), $"attention over positions {first}..+{count} of layer {layer} at offset {kvOffset} does not fit the cache.");
        if (scratch.Length < ScratchLength(hd, heads))
            throw new ArgumentException($"F16 attention needs {ScratchLength(hd, heads)} floats of scratch, got {scratch.Length}.", nameof(scratch));
        var queries = scratch[..(heads * hd)];
        var rows = scratch.Slice(heads * hd, HalfBlock * hd);
        var halves = MemoryMarshal.Cast<float, Half>(rows); // 2 × HalfBlock × hd halves, free between row conversions
        RoundToHalf(q[..(heads * hd)], queries, halves);
        int s0 = cache.Slot(first), n1 = Math.Min(count, cache.Capacity - s0);
        long headStart = cache.HeadStart(kvOffset);
        Half[] keys = cache.KeysF16(layer)!, values = cache.ValuesF16(layer)!;
        fixed (float* pq = queries, pr = rows, ps = scores, po = output)
        {
            for (int run = 0; run < 2; run++)
            {
                int slot = run == 0 ? s0 : 0, at = run == 0 ? 0 : n1, len = run == 0 ? n1 : count - n1;
                for (int j = 0; j < len; j += HalfBlock)
                {
                    int m = Math.Min(HalfBlock, len - j);
                    FloatConversion.HalfToSingle(keys.AsSpan((int)(headStart + (long)(slot + j) * hd), m * hd), rows);
                    for (int g = 0; g < heads; g++)
                        AttentionKernel.Scores(pq + g * hd, pr, hd, m, hd, scale, ps + (long)g * scoreStride + at + j);
                }
            }
            for (int g = 0; g < heads; g++)
            {
                SoftmaxToHalf(scores.Slice(g * scoreStride, count), halves);
                output.Slice(g * hd, hd).Clear();
            }
            for (int run = 0; run < 2; run++)
            {
                int slot = run == 0 ? s0 : 0, at = run == 0 ? 0 : n1, len = run == 0 ? n1 : count - n1;
                for (int j = 0; j < len; j += HalfBlock)
                {
                    int m = Math.Min(HalfBlock, len - j);
                    FloatConversion.HalfToSingle(values.AsSpan((int)(headStart + (long)(slot + j) * hd), m * hd), rows);
                    for (int g = 0; g < heads; g++)
                        AttentionKernel.Accumulate(ps + (long)g * scoreStride + at + j, pr, hd, m, hd, po + g * hd);
                }
            }
        }
    }

    /// <summary>
    /// <see cref="AttendGroup"/> over an F16 cache for <paramref name="tokens"/> consecutive queries of one sequence
    /// (a prompt chunk): query i attends to positions <paramref name="first"/>…first + count0 + i − 1. The rows those
    /// queries read are converted to floats once for all of them into <paramref name="rows"/> (keys, then values, each
    /// (count0 + tokens − 1) × hd floats, in position order) rather than once per query, which is what
    /// <see cref="AttendHalf"/> does: a 512-token prompt converted each row ~256 times. Each query then goes through the
    /// same roundings and the same loops as in <see cref="AttendHalf"/> (every score is the same arithmetic whatever
    /// block of keys it is computed in; the values are accumulated in position order either way), so every head of every
    /// query gets what it gets alone, bit for bit. Query i's heads are at q[i·<paramref name="qStride"/>…], its outputs
    /// at output[i·<paramref name="outputStride"/>…]; the scores of the query in progress use <paramref name="scores"/>
    /// as <see cref="AttendGroup"/> does.
    /// </summary>
    public static void AttendHalfPrompt(KvCache cache, int layer, int first, int count0, int tokens, int kvOffset, int hd, int heads,
        ReadOnlySpan<float> q, int qStride, float scale, Span<float> scores, int scoreStride, Span<float> output, int outputStride,
        Span<float> scratch, Span<float> rows)
    {
        long last = (long)count0 + tokens - 1; // the last query's position count
        if (tokens < 1 || count0 < 1 || heads < 1 || hd != cache.HeadDim || kvOffset % cache.HeadDim != 0 || (uint)kvOffset >= (uint)cache.KvDim
            || last > cache.Capacity || first < 0 || (uint)layer >= (uint)cache.Layers || cache.KeysF16(layer) is null
            || qStride < (long)heads * hd || outputStride < (long)heads * hd
            || q.Length < (tokens - 1L) * qStride + (long)heads * hd || output.Length < (tokens - 1L) * outputStride + (long)heads * hd
            || scoreStride < last || scores.Length < (heads - 1L) * scoreStride + last || rows.Length < 2 * last * hd)
            throw new ArgumentOutOfRangeException(nameof(tokens), $"prompt attention of {tokens} queries over positions {first}..+{last} of layer {layer} does not fit the cache or the buffers given.");
        if (scratch.Length < ScratchLength(hd, heads))
            throw new ArgumentException($"F16 attention needs {ScratchLength(hd, heads)} floats of scratch, got {scratch.Length}.", nameof(scratch));
        int n = (int)last;
        var queries = scratch[..(heads * hd)];
        var halves = MemoryMarshal.Cast<float, Half>(scratch.Slice(heads * hd, HalfBlock * hd));
        var keyRows = rows[..(n * hd)];
        var valueRows = rows.Slice(n * hd, n * hd);
        // Positions map to slots p mod capacity: at most two contiguous runs of slots, converted in position order.
        int s0 = cache.Slot(first), n1 = Math.Min(n, cache.Capacity - s0);
        long headStart = cache.HeadStart(kvOffset);
        Half[] keys = cache.KeysF16(layer)!, values = cache.ValuesF16(layer)!;
        FloatConversion.HalfToSingle(keys.AsSpan((int)(headStart + (long)s0 * hd), n1 * hd), keyRows[..(n1 * hd)]);
        FloatConversion.HalfToSingle(values.AsSpan((int)(headStart + (long)s0 * hd), n1 * hd), valueRows[..(n1 * hd)]);
        if (n1 < n)
        {
            FloatConversion.HalfToSingle(keys.AsSpan((int)headStart, (n - n1) * hd), keyRows[(n1 * hd)..]);
            FloatConversion.HalfToSingle(values.AsSpan((int)headStart, (n - n1) * hd), valueRows[(n1 * hd)..]);
        }
        fixed (float* pq = queries, pk = keyRows, pv = valueRows, ps = scores, po = output)
        {
            for (int i = 0; i < tokens; i++)
            {
                int count = count0 + i;
                RoundToHalf(q.Slice(i * qStride, heads * hd), queries, halves);
                for (int g = 0; g < heads; g++)
                    AttentionKernel.Scores(pq + g * hd, pk, hd, count, hd, scale, ps + (long)g * scoreStride);
                float* out0 = po + (long)i * outputStride;
                for (int g = 0; g < heads; g++)
                {
                    SoftmaxToHalf(scores.Slice(g * scoreStride, count), halves);
                    new Span<float>(out0 + g * hd, hd).Clear();
                    AttentionKernel.Accumulate(ps + (long)g * scoreStride, pv, hd, count, hd, out0 + g * hd);
                }
            }
        }
    }

    /// <summary>softmax(<paramref name="w"/>) in place, each weight then rounded to F16 and back (ggml's <c>mul_mat</c> meets the F16 values with F16 weights).</summary>
    private static void SoftmaxToHalf(Span<float> w, Span<Half> halves)
    {
        Ops.Softmax(w);
        RoundToHalf(w, w, halves);
    }

    /// <summary>destination = source rounded to F16 and back (through <paramref name="halves"/>, at least as long as source).</summary>
    private static void RoundToHalf(ReadOnlySpan<float> source, Span<float> destination, Span<Half> halves)
    {
        for (int i = 0; i < source.Length; i += halves.Length)
        {
            int n = Math.Min(halves.Length, source.Length - i);
            FloatConversion.SingleToHalf(source.Slice(i, n), halves[..n]);
            FloatConversion.HalfToSingle(halves[..n], destination.Slice(i, n));
        }
    }
}
