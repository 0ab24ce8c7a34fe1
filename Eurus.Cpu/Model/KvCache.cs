namespace Eurus.Cpu.Model;

/// <summary>
/// Keys and values of every layer for the positions a sequence has seen. With a sliding window the cache is a ring
/// buffer of <c>window + maxBatch</c> slots (position p lives in slot p mod capacity), so memory stays bounded however
/// long the session runs; without one it holds every position up to the context length. Each layer is stored head by
/// head (<c>[layer][kv head][slot][head dim]</c>), so one head's keys and values for consecutive positions are
/// contiguous: the attention loops stream them instead of striding across the other heads (4 KiB apart for Mistral-7B,
/// which also made every key row land in the same L1 sets). One array per layer and tensor, so only a layer's
/// <c>capacity × kv width</c> has to fit in an array; every offset is computed in <see langword="long"/>.
/// </summary>
internal sealed class KvCache
{
    private readonly float[][]? _k32, _v32;
    private readonly Half[][]? _k16, _v16;

    public KvCache(int layers, int kvDim, int capacity, KvCacheType type, int headDim = 0)
    {
        if (headDim == 0) headDim = kvDim;
        if (headDim < 1 || kvDim % headDim != 0) throw new ArgumentOutOfRangeException(nameof(headDim), headDim, "The head size must divide the KV width.");
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Layers = layers;
        KvDim = kvDim;
        HeadDim = headDim;
        Capacity = capacity;
        Type = type;
        long n = LayerElements(kvDim, capacity);
        if (n > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(capacity), $"A KV cache layer of {n} elements ({capacity} positions × {kvDim}) is more than an array holds.");
        if (type == KvCacheType.F32)
        {
            _k32 = new float[layers][];
            _v32 = new float[layers][];
            for (int l = 0; l < layers; l++) { _k32[l] = new float[n]; _v32[l] = new float[n]; }
        }
        else
        {
            _k16 = new Half[layers][];
            _v16 = new Half[layers][];
            for (int l = 0; l < layers; l++) { _k16[l] = new Half[n]; _v16[l] = new Half[n]; }
        }
    }

    /// <summary>Elements of one layer's keys (or values): what must fit in one array.</summary>
    public static long LayerElements(int kvDim, int capacity) => (long)kvDim * capacity;

    /// <summary>Bytes a cache of this shape holds.</summary>
    public static long BytesFor(int layers, int kvDim, int capacity, KvCacheType type) =>
        2L * layers * LayerElements(kvDim, capacity) * (type == KvCacheType.F32 ? 4 : 2);

    public int Layers { get; }
    public int KvDim { get; }
    /// <summary>Elements per head: the unit stored contiguously per position.</summary>
    public int HeadDim { get; }
    public int Capacity { get; }
    public KvCacheType Type { get; }

    /// <summary>Bytes held by the cache.</summary>
    public long Bytes => BytesFor(Layers, KvDim, Capacity, Type);

    public int Slot(int pos) => pos % Capacity;

    /// <summary>
    /// Where element <paramref name="offset"/> (of the KV width) of <paramref name="pos"/> is stored in its layer's
    /// array. Below <see cref="LayerElements"/>, which the constructor checked fits in an array, so the cast is exact.
    /// </summary>
    private int Offset(int layer, int pos, int offset)
    {
        if ((uint)layer >= (uint)Layers || pos < 0 || (uint)offset >= (uint)KvDim)
            throw new ArgumentOutOfRangeException(nameof(pos), $"layer {layer}, position {pos}, offset {offset} are outside the cache.");
        int head = offset / HeadDim;
        return (int)(((long)head * Capacity + Slot(pos)) * HeadDim + offset % HeadDim);
    }

    public void Store(int layer, int pos, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        for (int h = 0; h < KvDim; h += HeadDim)
        {
            int o = Offset(layer, pos, h);
            if (_k32 is not null)
            {
                k.Slice(h, HeadDim).CopyTo(_k32[layer].AsSpan(o, HeadDim));
                v.Slice(h, HeadDim).CopyTo(_v32![layer].AsSpan(o, HeadDim));
            }
            else
            {
                Quantization.FloatConversion.SingleToHalf(k.Slice(h, HeadDim), _k16![layer].AsSpan(o, HeadDim));
                Quantization.FloatConversion.SingleToHalf(v.Slice(h, HeadDim), _v16![layer].AsSpan(o, HeadDim));
            }
        }
    }

    /// <summary>
    /// One head's attention for one query: <paramref name="output"/> = softmax(q·Kᵀ·scale)·V over positions
    /// <paramref name="first"/>…first + count − 1 of <paramref name="layer"/>, the head's slice starting at
    /// <paramref name="kvOffset"/> of each cached vector. <paramref name="scores"/> (count long) receives the weights;
    /// <paramref name="scratch"/> (hd long) holds converted F16 rows. Both transformers attend through here, so their
    /// results agree bit for bit.
    /// </summary>
    public unsafe void Attend(int layer, int first, int count, int kvOffset, int hd, ReadOnlySpan<float> q, float scale,
        Span<float> scores, Span<float> output, Span<float> scratch)
    {
        if (count < 1 || (uint)count > (uint)Capacity || first < 0 || hd != HeadDim || kvOffset % HeadDim != 0 || (uint)kvOffset >= (uint)KvDim
            || q.Length < hd || (uint)layer >= (uint)Layers)
            throw new ArgumentOutOfRangeException(nameof(count), $"attention over positions {first}..+{count} of layer {layer} at offset {kvOffset} does not fit the cache.");
        scores = scores[..count];
        output = output[..hd];
        if (_k32 is null)
        {
            for (int j = 0; j < count; j++)
                scores[j] = System.Numerics.Tensors.TensorPrimitives.Dot(q[..hd], Key(layer, first + j, kvOffset, hd, scratch)) * scale;
            Kernels.Ops.Softmax(scores);
            output.Clear();
            for (int j = 0; j < count; j++)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(Value(layer, first + j, kvOffset, hd, scratch), scores[j], output, output);
            return;
        }
        // Positions map to slots p mod capacity: at most two contiguous runs of slots, each head's rows back to back.
        int s0 = Slot(first), n1 = Math.Min(count, Capacity - s0);
        long headStart = Offset(layer, 0, kvOffset);
        fixed (float* pk = _k32[layer], pv = _v32![layer], pq = q, ps = scores, po = output)
        {
            Kernels.AttentionKernel.Scores(pq, pk + headStart + (long)s0 * hd, hd, n1, hd, scale, ps);
            if (n1 < count) Kernels.AttentionKernel.Scores(pq, pk + headStart, hd, count - n1, hd, scale, ps + n1);
            Kernels.Ops.Softmax(scores);
            output.Clear();
            Kernels.AttentionKernel.Accumulate(ps, pv + headStart + (long)s0 * hd, hd, n1, hd, po);
            if (n1 < count) Kernels.AttentionKernel.Accumulate(ps + n1, pv + headStart, hd, count - n1, hd, po);
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
    public unsafe void AttendGroup(int layer, int first, int count, int kvOffset, int hd, int heads, ReadOnlySpan<float> q, float scale,
        Span<float> scores, int scoreStride, Span<float> output, Span<float> scratch)
    {
        if (heads < 1 || hd < 1 || count < 1 || q.Length < (long)heads * hd || output.Length < (long)heads * hd || scoreStride < count
            || scores.Length < (long)(heads - 1) * scoreStride + count)
            throw new ArgumentOutOfRangeException(nameof(heads), $"{heads} heads of {hd} with {count} scores {scoreStride} apart do not fit the buffers given.");
        if (_k32 is null || heads == 1)
        {
            for (int g = 0; g < heads; g++)
                Attend(layer, first, count, kvOffset, hd, q.Slice(g * hd, hd), scale, scores.Slice(g * scoreStride, count), output.Slice(g * hd, hd), scratch);
            return;
        }
        if (hd != HeadDim || kvOffset % HeadDim != 0 || (uint)kvOffset >= (uint)KvDim || (uint)count > (uint)Capacity || first < 0
            || (uint)layer >= (uint)Layers)
            throw new ArgumentOutOfRangeException(nameof(count), $"attention over positions {first}..+{count} of layer {layer} at offset {kvOffset} does not fit the cache.");
        // The same two runs of slots as Attend, each cut into blocks at multiples of 64 from its start (each key's score
        // is the same arithmetic whichever step of the kernel takes it, and the cuts keep the steps' alignment anyway;
        // the value loop carries the output through memory between calls, in position order).
        int s0 = Slot(first), n1 = Math.Min(count, Capacity - s0);
        long headStart = Offset(layer, 0, kvOffset);
        fixed (float* pk = _k32[layer], pv = _v32![layer], pq = q, ps = scores, po = output)
        {
            for (int run = 0; run < 2; run++)
            {
                int slot = run == 0 ? s0 : 0, at = run == 0 ? 0 : n1, len = run == 0 ? n1 : count - n1;
                for (int j = 0; j < len; j += GroupBlock)
                {
                    int m = Math.Min(GroupBlock, len - j);
                    for (int g = 0; g < heads; g++)
                        Kernels.AttentionKernel.Scores(pq + g * hd, pk + headStart + (long)(slot + j) * hd, hd, m, hd, scale, ps + (long)g * scoreStride + at + j);
                }
            }
            for (int g = 0; g < heads; g++)
            {
                Kernels.Ops.Softmax(scores.Slice(g * scoreStride, count));
                output.Slice(g * hd, hd).Clear();
            }
            for (int run = 0; run < 2; run++)
            {
                int slot = run == 0 ? s0 : 0, at = run == 0 ? 0 : n1, len = run == 0 ? n1 : count - n1;
                for (int j = 0; j < len; j += GroupBlock)
                {
                    int m = Math.Min(GroupBlock, len - j);
                    for (int g = 0; g < heads; g++)
                        Kernels.AttentionKernel.Accumulate(ps + (long)g * scoreStride + at + j, pv + headStart + (long)(slot + j) * hd, hd, m, hd, po + g * hd);
                }
            }
        }
    }

    /// <summary>Key of <paramref name="pos"/> for one layer, as floats (a view for F32, converted into <paramref name="scratch"/> for F16).</summary>
    public ReadOnlySpan<float> Key(int layer, int pos, int offset, int length, Span<float> scratch)
    {
        int o = Offset(layer, pos, offset);
        if (_k32 is not null) return _k32[layer].AsSpan(o, length);
        Quantization.FloatConversion.HalfToSingle(_k16![layer].AsSpan(o, length), scratch);
        return scratch[..length];
    }

    /// <summary>Value of <paramref name="pos"/> for one layer (see <see cref="Key"/>).</summary>
    public ReadOnlySpan<float> Value(int layer, int pos, int offset, int length, Span<float> scratch)
    {
        int o = Offset(layer, pos, offset);
        if (_v32 is not null) return _v32[layer].AsSpan(o, length);
        Quantization.FloatConversion.HalfToSingle(_v16![layer].AsSpan(o, length), scratch);
        return scratch[..length];
    }
}
