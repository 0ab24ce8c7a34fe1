namespace Eurus.Cpu.Model;

/// <summary>
/// Keys and values of every layer for the positions a sequence has seen. With a sliding window the cache is a ring
/// buffer of <c>window + maxBatch</c> slots (position p lives in slot p mod capacity), so memory stays bounded however
/// long the session runs; without one it holds every position up to the context length.
/// </summary>
internal sealed class KvCache
{
    private readonly float[]? _k32, _v32;
    private readonly Half[]? _k16, _v16;

    public KvCache(int layers, int kvDim, int capacity, KvCacheType type)
    {
        Layers = layers;
        KvDim = kvDim;
        Capacity = capacity;
        Type = type;
        long n = (long)layers * capacity * kvDim;
        if (n > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(capacity), $"A KV cache of {n} elements per tensor is too large.");
        if (type == KvCacheType.F32) { _k32 = new float[n]; _v32 = new float[n]; }
        else { _k16 = new Half[n]; _v16 = new Half[n]; }
    }

    public int Layers { get; }
    public int KvDim { get; }
    public int Capacity { get; }
    public KvCacheType Type { get; }

    /// <summary>Bytes held by the cache.</summary>
    public long Bytes => 2L * Layers * Capacity * KvDim * (Type == KvCacheType.F32 ? 4 : 2);

    public int Slot(int pos) => pos % Capacity;

    private int Offset(int layer, int pos) => (layer * Capacity + Slot(pos)) * KvDim;

    public void Store(int layer, int pos, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        int o = Offset(layer, pos);
        if (_k32 is not null)
        {
            k.CopyTo(_k32.AsSpan(o, KvDim));
            v.CopyTo(_v32.AsSpan(o, KvDim));
        }
        else
        {
            Quantization.FloatConversion.SingleToHalf(k, _k16.AsSpan(o, KvDim));
            Quantization.FloatConversion.SingleToHalf(v, _v16.AsSpan(o, KvDim));
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
        if ((uint)kvOffset + (uint)hd > (uint)KvDim || q.Length < hd || (uint)count > (uint)Capacity || first < 0)
            throw new ArgumentOutOfRangeException(nameof(count));
        // Positions map to slots p mod capacity: at most two contiguous runs of slots.
        int s0 = Slot(first), n1 = Math.Min(count, Capacity - s0);
        long layerStart = (long)layer * Capacity * KvDim + kvOffset;
        fixed (float* pk = _k32, pv = _v32!, pq = q, ps = scores, po = output)
        {
            Kernels.AttentionKernel.Scores(pq, pk + layerStart + (long)s0 * KvDim, KvDim, n1, hd, scale, ps);
            if (n1 < count) Kernels.AttentionKernel.Scores(pq, pk + layerStart, KvDim, count - n1, hd, scale, ps + n1);
            Kernels.Ops.Softmax(scores);
            output.Clear();
            Kernels.AttentionKernel.Accumulate(ps, pv + layerStart + (long)s0 * KvDim, KvDim, n1, hd, po);
            if (n1 < count) Kernels.AttentionKernel.Accumulate(ps + n1, pv + layerStart, KvDim, count - n1, hd, po);
        }
    }

    /// <summary>Key of <paramref name="pos"/> for one layer, as floats (a view for F32, converted into <paramref name="scratch"/> for F16).</summary>
    public ReadOnlySpan<float> Key(int layer, int pos, int offset, int length, Span<float> scratch)
    {
        int o = Offset(layer, pos) + offset;
        if (_k32 is not null) return _k32.AsSpan(o, length);
        Quantization.FloatConversion.HalfToSingle(_k16.AsSpan(o, length), scratch);
        return scratch[..length];
    }

    /// <summary>Value of <paramref name="pos"/> for one layer (see <see cref="Key"/>).</summary>
    public ReadOnlySpan<float> Value(int layer, int pos, int offset, int length, Span<float> scratch)
    {
        int o = Offset(layer, pos) + offset;
        if (_v32 is not null) return _v32.AsSpan(o, length);
        Quantization.FloatConversion.HalfToSingle(_v16.AsSpan(o, length), scratch);
        return scratch[..length];
    }
}
