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

    /// <summary>
    /// Positions a sequence's cache holds: the whole context, or — when a sliding window shorter than the context
    /// applies — a ring buffer of the window plus one prompt chunk (the chunk's tokens are stored before they attend).
    /// </summary>
    public static int CapacityFor(int context, int batch, int? window) =>
        window is int w && w < context ? (int)Math.Min(context, (long)w + batch) : context;

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
    /// The raw bytes of one KV head's keys (or values) in slots [0, <paramref name="slots"/>) of one layer: contiguous,
    /// as the cache stores them (for saving and restoring a session's state).
    /// </summary>
    public Span<byte> HeadBytes(int layer, bool values, int head, int slots)
    {
        if ((uint)layer >= (uint)Layers || (uint)head >= (uint)(KvDim / HeadDim) || (uint)slots > (uint)Capacity)
            throw new ArgumentOutOfRangeException(nameof(slots), $"layer {layer}, head {head}, {slots} slots are outside the cache.");
        int start = (int)((long)head * Capacity * HeadDim), length = slots * HeadDim; // within LayerElements, checked at construction
        return _k32 is not null
            ? System.Runtime.InteropServices.MemoryMarshal.AsBytes((values ? _v32! : _k32)[layer].AsSpan(start, length))
            : System.Runtime.InteropServices.MemoryMarshal.AsBytes((values ? _v16! : _k16!)[layer].AsSpan(start, length));
    }

    /// <summary>
    /// Copies the keys and values of positions [0, <paramref name="positions"/>) into <paramref name="destination"/>, a
    /// cache of the same shape (the batched generator's prompt cache moves a shared prefix between slots this way).
    /// In ring-buffer mode a count over the capacity copies every slot: position p lives in slot p mod capacity in both.
    /// </summary>
    public void CopyPrefixTo(KvCache destination, int positions)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.Layers != Layers || destination.KvDim != KvDim || destination.HeadDim != HeadDim || destination.Capacity != Capacity || destination.Type != Type)
            throw new ArgumentException("The destination cache has another shape.", nameof(destination));
        ArgumentOutOfRangeException.ThrowIfNegative(positions);
        int slots = Math.Min(positions, Capacity);
        if (slots == 0 || ReferenceEquals(destination, this)) return;
        int heads = KvDim / HeadDim;
        for (int l = 0; l < Layers; l++)
            for (int h = 0; h < heads; h++)
            {
                HeadBytes(l, false, h, slots).CopyTo(destination.HeadBytes(l, false, h, slots));
                HeadBytes(l, true, h, slots).CopyTo(destination.HeadBytes(l, true, h, slots));
            }
    }

    /// <summary>One layer's F32 keys (null for an F16 cache): <c>[kv head][slot][head dim]</c>.</summary>
    public float[]? KeysF32(int layer) => _k32?[layer];

    /// <summary>One layer's F32 values (null for an F16 cache).</summary>
    public float[]? ValuesF32(int layer) => _v32?[layer];

    /// <summary>One layer's F16 keys (null for an F32 cache): <c>[kv head][slot][head dim]</c>.</summary>
    public Half[]? KeysF16(int layer) => _k16?[layer];

    /// <summary>One layer's F16 values (null for an F32 cache).</summary>
    public Half[]? ValuesF16(int layer) => _v16?[layer];

    /// <summary>Where the head whose slice starts at <paramref name="kvOffset"/> of the KV width begins in a layer's array.</summary>
    public long HeadStart(int kvOffset) => Offset(0, 0, kvOffset);

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
