using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using Eurus.Cpu.Kernels;

namespace Eurus.Cpu.Model;

/// <summary>
/// The Mistral forward pass over a batch of tokens at consecutive positions. Owns the run state (activation buffers
/// sized once for the largest batch) so evaluating tokens allocates nothing. Not thread-safe: one per session.
/// </summary>
internal sealed unsafe class Transformer : IDisposable
{
    private readonly MistralConfig _c;
    private readonly MistralWeights _w;
    private readonly MatMul _mm;
    private readonly WorkerPool _pool;
    private readonly AttendWork _attend;
    private readonly TokenWork _tokenWork;
    private readonly int? _window;

    // Run state, [maxBatch × width] each.
    private readonly float[] _x, _xb, _q, _k, _v, _ao, _gate, _up;
    private readonly float[] _scores;   // [heads × kv capacity]
    private readonly float[] _kvTmp;    // [heads × 2 × head_dim], F16 cache conversion
    private readonly float[] _cos, _sin;    // [maxBatch × rope_dim/2], per position of the current batch
    private readonly float[] _lastLogits;

    public Transformer(MistralConfig c, MistralWeights w, int maxBatch, int kvCapacity, int threads, int? window)
    {
        _c = c;
        _w = w;
        _window = window;
        MaxBatch = maxBatch;
        _pool = new WorkerPool(threads);
        _attend = new AttendWork(this);
        _tokenWork = new TokenWork(this);
        bool half = AllMatrices(w).Any(m => m.Type == Gguf.GgmlType.F16);
        bool bf = AllMatrices(w).Any(m => m.Type == Gguf.GgmlType.BF16);
        _mm = new MatMul(maxBatch, Math.Max(c.Dim, c.FeedForward), _pool, half, bf);
        _x = Pinned(checked(maxBatch * c.Dim));
        _xb = Pinned(checked(maxBatch * c.Dim));
        _q = Pinned(checked(maxBatch * c.Dim));
        _k = Pinned(checked(maxBatch * c.KvDim));
        _v = Pinned(checked(maxBatch * c.KvDim));
        _ao = Pinned(checked(maxBatch * c.Dim));
        _gate = Pinned(checked(maxBatch * c.FeedForward));
        _up = Pinned(checked(maxBatch * c.FeedForward));
        _scores = new float[checked(c.Heads * kvCapacity)];
        _kvTmp = new float[checked(c.Heads * 2 * c.HeadDim)];
        _cos = new float[checked(maxBatch * (c.RopeDim / 2))];
        _sin = new float[checked(maxBatch * (c.RopeDim / 2))];
        _lastLogits = new float[c.Vocab];
    }

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

    // Matmul inputs and outputs are pinned: the kernels read them through pointers from several threads.
    private static float[] Pinned(int length) => GC.AllocateArray<float>(length, pinned: true);

    private static IEnumerable<WeightMatrix> AllMatrices(MistralWeights w) =>
        new[] { w.TokenEmbedding, w.Output }.Concat(w.Layers.SelectMany(l => new[] { l.Wq, l.Wk, l.Wv, l.Wo, l.Gate, l.Up, l.Down }));

    /// <summary>Most tokens one <see cref="Forward"/> call accepts.</summary>
    public int MaxBatch { get; }

    /// <summary>Logits of the last token of the most recent <see cref="Forward"/> call.</summary>
    public ReadOnlySpan<float> LastLogits => _lastLogits;

    /// <summary>
    /// Runs <paramref name="tokens"/> at positions <paramref name="startPos"/>…, appending their keys and values to
    /// <paramref name="cache"/>. Writes the last token's logits to <see cref="LastLogits"/>, and every token's logits
    /// to <paramref name="allLogits"/> ([tokens × vocab]) when it is not empty.
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, int startPos, KvCache cache, Span<float> allLogits = default)
    {
        // Neither this pass's scratch nor the weights may be freed while it runs (see UseGate).
        _inUse.Enter(this);
        try
        {
            _w.Gate.Enter(_w);
            try { ForwardCore(tokens, startPos, cache, allLogits); }
            finally { _w.Gate.Exit(); }
        }
        finally { _inUse.Exit(); }
    }

    private void ForwardCore(ReadOnlySpan<int> tokens, int startPos, KvCache cache, Span<float> allLogits)
    {
        int n = tokens.Length, dim = _c.Dim, kvDim = _c.KvDim, hd = _c.HeadDim, ffn = _c.FeedForward;
        if (n < 1 || n > MaxBatch) throw new ArgumentOutOfRangeException(nameof(tokens), $"1 to {MaxBatch} tokens per call.");
        if (!allLogits.IsEmpty && allLogits.Length < (long)n * _c.Vocab) throw new ArgumentException("Logits buffer too small.", nameof(allLogits));
        ArgumentNullException.ThrowIfNull(cache);
        if ((long)cache.Capacity * _c.Heads > _scores.Length || cache.KvDim != _c.KvDim || cache.Layers != _c.Layers || cache.HeadDim != _c.HeadDim)
            throw new ArgumentException("The cache does not fit this model or this pass's scratch.", nameof(cache));
        if (startPos < 0 || (_window is null && (long)startPos + n > cache.Capacity))
            throw new ArgumentOutOfRangeException(nameof(startPos), $"positions {startPos}..{(long)startPos + n - 1} are outside the cache (0..{cache.Capacity - 1}).");
        var x = _x.AsSpan(0, n * dim);

        // Token embeddings (quantized rows are dequantized on lookup).
        for (int t = 0; t < n; t++)
        {
            int id = tokens[t];
            if ((uint)id >= (uint)_c.Vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {id} is outside the vocabulary (0..{_c.Vocab - 1}).");
            Quantization.RowCodec.Decode(_w.TokenEmbedding.Type, _w.TokenEmbedding.Row(id), x.Slice(t * dim, dim));
        }

        // RoPE angles depend only on the position: computed once per token, used by every layer.
        int half = _c.RopeDim / 2;
        for (int t = 0; t < n; t++)
            Ops.RopeAngles(startPos + t, _c.RopeTheta, _c.RopeDim, _cos.AsSpan(t * half, half), _sin.AsSpan(t * half, half));

        for (int l = 0; l < _c.Layers; l++)
        {
            var L = _w.Layers[l];

            // Attention: RMSNorm → Q, K, V projections.
            PerToken(TokenStep.AttnNorm, L, n);
            _mm.Multiply(L.Wq, _xb, n, _q);
            _mm.Multiply(L.Wk, _xb, n, _k, sameInput: true);
            _mm.Multiply(L.Wv, _xb, n, _v, sameInput: true);

            // RoPE on Q and K (adjacent pairs, GGUF layout), then append K and V to the cache.
            for (int t = 0; t < n; t++)
            {
                int pos = startPos + t;
                var cos = _cos.AsSpan(t * half, half);
                var sin = _sin.AsSpan(t * half, half);
                for (int h = 0; h < _c.Heads; h++) Ops.RopeAdjacent(_q.AsSpan(t * dim + h * hd, hd), cos, sin);
                for (int h = 0; h < _c.KvHeads; h++) Ops.RopeAdjacent(_k.AsSpan(t * kvDim + h * hd, hd), cos, sin);
                cache.Store(l, pos, _k.AsSpan(t * kvDim, kvDim), _v.AsSpan(t * kvDim, kvDim));
            }

            // Grouped-query attention over the cache, heads in parallel (each head runs the batch's tokens in order).
            long a0 = MatMul.Profile ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            _attend.Set(cache, l, startPos, n);
            try { _pool.Run(_attend, _attend.Items); }
            finally { _attend.Clear(); }
            if (MatMul.Profile) MatMul.ProfileTicks[MatMul.ProfileAttentionIndex] += System.Diagnostics.Stopwatch.GetTimestamp() - a0;

            // Output projection and residual.
            _mm.Multiply(L.Wo, _ao, n, _xb);
            TensorPrimitives.Add(x, _xb.AsSpan(0, n * dim), x);

            // FFN: RMSNorm → SwiGLU (silu(gate) · up) → down, residual.
            PerToken(TokenStep.FfnNorm, L, n);
            _mm.Multiply(L.Gate, _xb, n, _gate);
            _mm.Multiply(L.Up, _xb, n, _up, sameInput: true);
            PerToken(TokenStep.SwiGlu, L, n);
            _mm.Multiply(L.Down, _gate, n, _xb);
            TensorPrimitives.Add(x, _xb.AsSpan(0, n * dim), x);
        }

        // Final RMSNorm and the output projection (every token's logits only when asked for).
        var outNorm = new ReadOnlySpan<float>(_w.OutputNorm, dim);
        if (allLogits.IsEmpty)
        {
            Ops.RmsNorm(x.Slice((n - 1) * dim, dim), outNorm, _c.RmsEps, _xb.AsSpan(0, dim));
            _mm.Multiply(_w.Output, _xb, 1, _lastLogits);
        }
        else
        {
            for (int t = 0; t < n; t++) Ops.RmsNorm(x.Slice(t * dim, dim), outNorm, _c.RmsEps, _xb.AsSpan(t * dim, dim));
            _mm.Multiply(_w.Output, _xb, n, allLogits);
            allLogits.Slice((n - 1) * _c.Vocab, _c.Vocab).CopyTo(_lastLogits);
        }
    }

    private enum TokenStep { AttnNorm, FfnNorm, SwiGlu }

    /// <summary>
    /// Runs one per-token step for every token of the batch: on the worker pool for a prompt (these were 4% of a
    /// prompt's time on one thread), inline for a single token. Each token's arithmetic is the same either way.
    /// </summary>
    private void PerToken(TokenStep step, LayerWeights layer, int n)
    {
        if (n == 1)
        {
            RunStep(step, layer, 0);
            return;
        }
        _tokenWork.Set(step, layer);
        try { _pool.Run(_tokenWork, n); }
        finally { _tokenWork.Clear(); }
    }

    private void RunStep(TokenStep step, LayerWeights layer, int t)
    {
        int dim = _c.Dim, ffn = _c.FeedForward;
        switch (step)
        {
            case TokenStep.AttnNorm:
                Ops.RmsNorm(_x.AsSpan(t * dim, dim), new ReadOnlySpan<float>(layer.AttnNorm, dim), _c.RmsEps, _xb.AsSpan(t * dim, dim));
                break;
            case TokenStep.FfnNorm:
                Ops.RmsNorm(_x.AsSpan(t * dim, dim), new ReadOnlySpan<float>(layer.FfnNorm, dim), _c.RmsEps, _xb.AsSpan(t * dim, dim));
                break;
            default:
                Ops.SiluMul(_gate.AsSpan(t * ffn, ffn), _up.AsSpan(t * ffn, ffn));
                break;
        }
    }

    /// <summary>The per-token steps as pool work (one instance, reused: allocates nothing).</summary>
    private sealed class TokenWork(Transformer o) : IParallelWork
    {
        private TokenStep _step;
        private LayerWeights? _layer;

        public void Set(TokenStep step, LayerWeights layer) => (_step, _layer) = (step, layer);

        public void Clear() => _layer = null;

        public void Execute(int t) => o.RunStep(_step, _layer!, t);
    }

    /// <summary>
    /// softmax(q·Kᵀ/√d)·V of one head (or of a KV head's group of query heads) for every token of the batch (token t
    /// at startPos + t sees positions up to its own, within the sliding window), into _ao. One instance, reused: an attention step allocates nothing.
    /// </summary>
    private sealed class AttendWork(Transformer o) : IParallelWork
    {
        private KvCache? _cache;
        private int _layer, _startPos, _tokens;

        public void Set(KvCache cache, int layer, int startPos, int tokens) => (_cache, _layer, _startPos, _tokens) = (cache, layer, startPos, tokens);

        public void Clear() => _cache = null;

        /// <summary>
        /// Work items: for a prompt one per KV head, its query heads attended together (<see cref="KvCache.AttendGroup"/>);
        /// one per query head for a single token, or when there are more threads than KV heads (8 items would leave
        /// the rest idle). Both give every head the same result.
        /// </summary>
        public int Items => Grouped ? o._c.KvHeads : o._c.Heads;

        private bool Grouped => _tokens > 1 && o._pool.Threads <= o._c.KvHeads;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int item)
        {
            var c = o._c;
            var cache = _cache!;
            int hd = c.HeadDim;
            int heads = Grouped ? c.GroupSize : 1;
            int h = item * heads; // first query head
            int kvOff = h / c.GroupSize * hd;
            var tmp = o._kvTmp.AsSpan(h * 2 * hd, hd);
            float scale = 1f / MathF.Sqrt(hd);
            for (int t = 0; t < _tokens; t++)
            {
                int pos = _startPos + t;
                int first = o._window is int w ? Math.Max(0, pos - w + 1) : 0;
                int count = pos - first + 1;
                cache.AttendGroup(_layer, first, count, kvOff, hd, heads, o._q.AsSpan(t * c.Dim + h * hd, heads * hd), scale,
                    o._scores.AsSpan(h * cache.Capacity, (heads - 1) * cache.Capacity + count), cache.Capacity,
                    o._ao.AsSpan(t * c.Dim + h * hd, heads * hd), tmp);
            }
        }
    }
}
