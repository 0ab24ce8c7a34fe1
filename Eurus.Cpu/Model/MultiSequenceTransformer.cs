using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using Eurus.Cpu.Kernels;

namespace Eurus.Cpu.Model;

/// <summary>One token of a multi-sequence step: its id, its position in its own sequence and that sequence's cache.</summary>
/// <param name="Token">Token id.</param>
/// <param name="Position">Position of the token in its sequence.</param>
/// <param name="Cache">The sequence's KV cache (positions before <paramref name="Position"/> must be in it).</param>
/// <param name="WantLogits">Whether this token's logits are needed (the last token of each sequence, usually).</param>
internal readonly record struct SequenceToken(int Token, int Position, KvCache Cache, bool WantLogits);

/// <summary>
/// The Mistral forward pass over tokens of several independent sequences at once (continuous batching): every matmul
/// runs once over all the step's tokens, so one pass over the weights serves every active sequence, while RoPE and
/// attention use each token's own position and its own sequence's KV cache. Several tokens of one sequence may be in
/// a step (a prompt chunk); their keys and values are stored before any of them attends, so causality holds as in
/// <see cref="Transformer.Forward"/>. The arithmetic per token is that of <see cref="Transformer"/> (the matmul
/// kernels give bit-identical rows whatever the batch size), so a sequence's logits do not depend on its neighbours.
/// Kept apart from <see cref="Transformer"/> so that the single-sequence path stays as it is. Not thread-safe.
/// </summary>
internal sealed unsafe class MultiSequenceTransformer : IDisposable
{
    private readonly MistralConfig _c;
    private readonly MistralWeights _w;
    private readonly MatMul _mm;
    private readonly WorkerPool _pool;
    private readonly int? _window;
    private readonly float[] _x, _xb, _q, _k, _v, _ao, _gate, _up;
    private readonly float[] _scores;   // [heads × max kv capacity]
    private readonly float[] _kvTmp;    // [heads × head_dim], F16 cache conversion
    private readonly float[] _cos, _sin;
    private readonly int _maxCapacity;
    private readonly SequenceToken[] _tokens;   // the current step's tokens, for the attention workers
    private readonly AttendAll _attend;

    public MultiSequenceTransformer(MistralConfig c, MistralWeights w, int maxTokens, int maxKvCapacity, int threads, int? window)
    {
        _c = c;
        _w = w;
        _window = window;
        MaxTokens = maxTokens;
        _maxCapacity = maxKvCapacity;
        _pool = new WorkerPool(threads);
        var all = new[] { w.TokenEmbedding, w.Output }.Concat(w.Layers.SelectMany(l => new[] { l.Wq, l.Wk, l.Wv, l.Wo, l.Gate, l.Up, l.Down })).ToArray();
        _mm = new MatMul(maxTokens, Math.Max(c.Dim, c.FeedForward), _pool,
            all.Any(m => m.Type == Gguf.GgmlType.F16), all.Any(m => m.Type == Gguf.GgmlType.BF16));
        _x = Pinned(checked(maxTokens * c.Dim));
        _xb = Pinned(checked(maxTokens * c.Dim));
        _q = Pinned(checked(maxTokens * c.Dim));
        _k = Pinned(checked(maxTokens * c.KvDim));
        _v = Pinned(checked(maxTokens * c.KvDim));
        _ao = Pinned(checked(maxTokens * c.Dim));
        _gate = Pinned(checked(maxTokens * c.FeedForward));
        _up = Pinned(checked(maxTokens * c.FeedForward));
        _scores = new float[checked(c.Heads * maxKvCapacity)];
        _kvTmp = new float[checked(c.Heads * c.HeadDim)];
        _cos = new float[checked(maxTokens * (c.RopeDim / 2))];
        _sin = new float[checked(maxTokens * (c.RopeDim / 2))];
        _tokens = new SequenceToken[maxTokens];
        _attend = new AttendAll(this);
    }

    // Matmul inputs and outputs are pinned, as in Transformer: the kernels read them through pointers from several threads.
    private static float[] Pinned(int length) => GC.AllocateArray<float>(length, pinned: true);

    /// <summary>Most tokens one step accepts.</summary>
    public int MaxTokens { get; }

    private readonly UseGate _inUse = new();

    /// <summary>
    /// Waits for a running <see cref="Forward"/> (on another thread) to finish, then frees native scratch memory and
    /// stops the worker threads; a later <see cref="Forward"/> throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (!_inUse.Close()) return;
        _mm.Dispose();
        _pool.Dispose();
    }

    /// <summary>
    /// Runs one step over <paramref name="tokens"/>, storing their keys and values in their caches, and writes the
    /// logits of each token with <see cref="SequenceToken.WantLogits"/> set, in order, to <paramref name="logits"/>
    /// ([wanted × vocab]).
    /// </summary>
    public void Forward(ReadOnlySpan<SequenceToken> tokens, Span<float> logits)
    {
        // Neither this step's scratch nor the weights may be freed while it runs (see UseGate).
        _inUse.Enter(this);
        try
        {
            _w.Gate.Enter(_w);
            try { ForwardCore(tokens, logits); }
            finally { _w.Gate.Exit(); }
        }
        finally { _inUse.Exit(); }
    }

    private void ForwardCore(ReadOnlySpan<SequenceToken> tokens, Span<float> logits)
    {
        int n = tokens.Length, dim = _c.Dim, kvDim = _c.KvDim, hd = _c.HeadDim, vocab = _c.Vocab;
        if (n < 1 || n > MaxTokens) throw new ArgumentOutOfRangeException(nameof(tokens), $"1 to {MaxTokens} tokens per step.");
        int wanted = 0;
        foreach (var t in tokens)
        {
            if ((uint)t.Token >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {t.Token} is outside the vocabulary (0..{vocab - 1}).");
            if (t.Cache.Capacity > _maxCapacity || t.Cache.KvDim != kvDim || t.Cache.Layers != _c.Layers || t.Cache.HeadDim != hd)
                throw new ArgumentException("A cache does not fit this model or this step's scratch.", nameof(tokens));
            if (t.Position < 0 || (_window is null && t.Position >= t.Cache.Capacity))
                throw new ArgumentOutOfRangeException(nameof(tokens), $"position {t.Position} is outside the cache (0..{t.Cache.Capacity - 1}).");
            if (t.WantLogits) wanted++;
        }
        if (logits.Length < (long)wanted * vocab) throw new ArgumentException("Logits buffer too small.", nameof(logits));
        var x = _x.AsSpan(0, n * dim);
        int half = _c.RopeDim / 2;
        for (int t = 0; t < n; t++)
        {
            Quantization.RowCodec.Decode(_w.TokenEmbedding.Type, _w.TokenEmbedding.Row(tokens[t].Token), x.Slice(t * dim, dim));
            Ops.RopeAngles(tokens[t].Position, _c.RopeTheta, _c.RopeDim, _cos.AsSpan(t * half, half), _sin.AsSpan(t * half, half));
        }

        tokens.CopyTo(_tokens);
        var attend = _attend;
        attend.Count = n;
        for (int l = 0; l < _c.Layers; l++)
        {
            var L = _w.Layers[l];
            for (int t = 0; t < n; t++) Ops.RmsNorm(x.Slice(t * dim, dim), new ReadOnlySpan<float>(L.AttnNorm, dim), _c.RmsEps, _xb.AsSpan(t * dim, dim));
            _mm.Multiply(L.Wq, _xb, n, _q);
            _mm.Multiply(L.Wk, _xb, n, _k, sameInput: true);
            _mm.Multiply(L.Wv, _xb, n, _v, sameInput: true);

            // RoPE at each token's own position; every key and value is stored before anyone attends.
            for (int t = 0; t < n; t++)
            {
                var cos = _cos.AsSpan(t * half, half);
                var sin = _sin.AsSpan(t * half, half);
                for (int h = 0; h < _c.Heads; h++) Ops.RopeAdjacent(_q.AsSpan(t * dim + h * hd, hd), cos, sin);
                for (int h = 0; h < _c.KvHeads; h++) Ops.RopeAdjacent(_k.AsSpan(t * kvDim + h * hd, hd), cos, sin);
                tokens[t].Cache.Store(l, tokens[t].Position, _k.AsSpan(t * kvDim, kvDim), _v.AsSpan(t * kvDim, kvDim));
            }

            // Attention: heads in parallel, each head walking the step's tokens against their own caches.
            attend.Layer = l;
            _pool.Run(attend, _c.Heads);

            _mm.Multiply(L.Wo, _ao, n, _xb);
            TensorPrimitives.Add(x, _xb.AsSpan(0, n * dim), x);

            int ffn = _c.FeedForward;
            for (int t = 0; t < n; t++) Ops.RmsNorm(x.Slice(t * dim, dim), new ReadOnlySpan<float>(L.FfnNorm, dim), _c.RmsEps, _xb.AsSpan(t * dim, dim));
            _mm.Multiply(L.Gate, _xb, n, _gate);
            _mm.Multiply(L.Up, _xb, n, _up, sameInput: true);
            Ops.SiluMul(_gate.AsSpan(0, n * ffn), _up.AsSpan(0, n * ffn));
            _mm.Multiply(L.Down, _gate, n, _xb);
            TensorPrimitives.Add(x, _xb.AsSpan(0, n * dim), x);
        }

        // Final norm of the wanted rows only, gathered contiguously, then one output matmul for all of them.
        if (wanted == 0) return;
        var outNorm = new ReadOnlySpan<float>(_w.OutputNorm, dim);
        int row = 0;
        for (int t = 0; t < n; t++)
            if (tokens[t].WantLogits) Ops.RmsNorm(x.Slice(t * dim, dim), outNorm, _c.RmsEps, _xb.AsSpan(row++ * dim, dim));
        _mm.Multiply(_w.Output, _xb, wanted, logits);
    }

    /// <summary>softmax(q·Kᵀ/√d)·V per (token, head), with the summation order of the single-sequence pass.</summary>
    private sealed class AttendAll(MultiSequenceTransformer o) : IParallelWork
    {
        public int Layer, Count;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int h)
        {
            var c = o._c;
            int hd = c.HeadDim;
            int kvOff = h / c.GroupSize * hd;
            float scale = 1f / MathF.Sqrt(hd);
            var tmp = o._kvTmp.AsSpan(h * hd, hd);
            var tokens = o._tokens;
            for (int t = 0; t < Count; t++)
            {
                var cache = tokens[t].Cache;
                int pos = tokens[t].Position;
                int first = o._window is int w ? Math.Max(0, pos - w + 1) : 0;
                int count = pos - first + 1;
                cache.Attend(Layer, first, count, kvOff, hd, o._q.AsSpan(t * c.Dim + h * hd, hd), scale,
                    o._scores.AsSpan(h * o._maxCapacity, count), o._ao.AsSpan(t * c.Dim + h * hd, hd), tmp);
            }
        }
    }
}
