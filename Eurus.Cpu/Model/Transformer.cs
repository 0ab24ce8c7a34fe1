using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using Eurus.Cpu.Kernels;

namespace Eurus.Cpu.Model;

/// <summary>One token of a forward pass: its id, its position in its own sequence and that sequence's cache.</summary>
/// <param name="Token">Token id.</param>
/// <param name="Position">Position of the token in its sequence.</param>
/// <param name="Cache">The sequence's KV cache (positions before <paramref name="Position"/> must be in it).</param>
/// <param name="WantLogits">Whether this token's logits are needed (the last token of each sequence, usually).</param>
internal readonly record struct SequenceToken(int Token, int Position, KvCache Cache, bool WantLogits);

/// <summary>
/// The Mistral forward pass (llama2.c's <c>forward</c>) over a span of tokens, each with its own position and KV cache:
/// a prompt chunk of one sequence, one decode token, or the tokens of many sequences at once (continuous batching).
/// Every matmul runs once over all the pass's tokens, so one read of the weights serves them all, while RoPE and
/// attention use each token's own position and cache; every key and value of the pass is stored before any token
/// attends, so a sequence's tokens in one pass see each other causally. A token's arithmetic does not depend on the
/// other tokens of the pass (the matmul kernels give the same row whatever the token count, per-token steps run per
/// token), so batched equals sequential bit for bit. Owns its <see cref="ForwardState"/>; runs on its model's shared
/// worker pool (<see cref="ModelCompute"/>), taking turns with the model's other passes. Not thread-safe: one pass at a
/// time per instance.
/// </summary>
internal sealed unsafe class Transformer : IDisposable
{
    private readonly MistralConfig _c;
    private readonly MistralWeights _w;
    private readonly ForwardState _s;
    private readonly MatMul _mm;
    private readonly WorkerPool _pool;
    private readonly ModelCompute _compute;
    private readonly bool _ownsCompute;
    private readonly AttendWork _attend;
    private readonly TokenWork _tokenWork;
    private readonly int? _window;
    private readonly UseGate _inUse = new();
    private readonly KernelProfile? _profile;

    /// <summary>
    /// A pass of up to <paramref name="maxTokens"/> tokens over caches of up to <paramref name="maxKvCapacity"/>
    /// positions, on the model's shared <paramref name="compute"/>; <paramref name="window"/> is the sliding attention window.
    /// </summary>
    public Transformer(MistralConfig c, MistralWeights w, int maxTokens, int maxKvCapacity, ModelCompute compute, int? window)
        : this(c, w, maxTokens, maxKvCapacity, compute, window, ownsCompute: false) { }

    /// <summary>A pass with its own worker pool of <paramref name="threads"/> threads (tests), stopped with it.</summary>
    public Transformer(MistralConfig c, MistralWeights w, int maxTokens, int maxKvCapacity, int threads, int? window)
        : this(c, w, maxTokens, maxKvCapacity, new ModelCompute(threads), window, ownsCompute: true) { }

    private Transformer(MistralConfig c, MistralWeights w, int maxTokens, int maxKvCapacity, ModelCompute compute, int? window, bool ownsCompute)
    {
        _c = c;
        _w = w;
        _window = window;
        _s = new ForwardState(c, maxTokens, maxKvCapacity);
        _compute = compute;
        _ownsCompute = ownsCompute;
        _pool = compute.Pool;
        _attend = new AttendWork(this);
        _tokenWork = new TokenWork(this);
        bool half = AllMatrices(w).Any(m => m.Type == Gguf.GgmlType.F16);
        bool bf = AllMatrices(w).Any(m => m.Type == Gguf.GgmlType.BF16);
        _mm = new MatMul(maxTokens, Math.Max(c.Dim, c.FeedForward), _pool, half, bf, w.Kernels);
        _profile = w.Kernels.Profile;
    }

    /// <summary>
    /// Waits for a running <see cref="Forward(ReadOnlySpan{SequenceToken}, Span{float})"/> (on another thread) to
    /// finish, then frees native scratch memory (and stops the worker threads when it owns them; the model's shared
    /// pool stops with the model); a later pass throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (!_inUse.Close()) return;
        _mm.Dispose();
        if (_ownsCompute) _compute.Dispose();
    }

    private static IEnumerable<WeightMatrix> AllMatrices(MistralWeights w) =>
        new[] { w.TokenEmbedding, w.Output }.Concat(w.Layers.SelectMany(l => new[] { l.Wq, l.Wk, l.Wv, l.Wo, l.Gate, l.Up, l.Down }));

    /// <summary>The worker pool the pass runs on (the model's, shared).</summary>
    internal WorkerPool Pool => _pool;

    /// <summary>Most tokens one pass accepts.</summary>
    public int MaxTokens => _s.MaxTokens;

    /// <summary>Logits of the last token of the most recent one-sequence <see cref="Forward(ReadOnlySpan{int}, int, KvCache, Span{float})"/>.</summary>
    public ReadOnlySpan<float> LastLogits => _s.LastLogits;

    /// <summary>
    /// One sequence: runs <paramref name="tokens"/> at positions <paramref name="startPos"/>…, appending their keys and
    /// values to <paramref name="cache"/>. Writes the last token's logits to <see cref="LastLogits"/>, and every token's
    /// logits to <paramref name="allLogits"/> ([tokens × vocab]) when it is not empty. The one-sequence case of
    /// <see cref="Forward(ReadOnlySpan{SequenceToken}, Span{float})"/>.
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, int startPos, KvCache cache, Span<float> allLogits = default)
    {
        int n = tokens.Length, vocab = _c.Vocab;
        if (n < 1 || n > MaxTokens) throw new ArgumentOutOfRangeException(nameof(tokens), $"1 to {MaxTokens} tokens per call.");
        ArgumentNullException.ThrowIfNull(cache);
        if (startPos < 0 || (long)startPos + n > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(startPos));
        if (!allLogits.IsEmpty && allLogits.Length < (long)n * vocab) throw new ArgumentException("Logits buffer too small.", nameof(allLogits));
        var one = _s.Single.AsSpan(0, n);
        for (int t = 0; t < n; t++) one[t] = new SequenceToken(tokens[t], startPos + t, cache, !allLogits.IsEmpty || t == n - 1);
        if (allLogits.IsEmpty) Forward(one, _s.LastLogits);
        else
        {
            Forward(one, allLogits);
            allLogits.Slice((n - 1) * vocab, vocab).CopyTo(_s.LastLogits);
        }
    }

    /// <summary>
    /// Runs one pass over <paramref name="tokens"/>, storing their keys and values in their caches, and writes the
    /// logits of each token with <see cref="SequenceToken.WantLogits"/> set, in order, to <paramref name="logits"/>
    /// ([wanted × vocab]).
    /// </summary>
    public void Forward(ReadOnlySpan<SequenceToken> tokens, Span<float> logits)
    {
        // Neither this pass's scratch nor the weights may be freed while it runs (see UseGate).
        _inUse.Enter(this);
        try
        {
            _w.Gate.Enter(_w);
            try
            {
                // The model's pool serves one pass at a time: passes of other sessions of this model wait here.
                lock (_compute.Turn)
                {
                    _compute.OnForward?.Invoke();
                    ForwardCore(tokens, logits);
                }
            }
            finally { _w.Gate.Exit(); }
        }
        finally { _inUse.Exit(); }
    }

    private void ForwardCore(ReadOnlySpan<SequenceToken> tokens, Span<float> logits)
    {
        int n = tokens.Length, dim = _c.Dim, kvDim = _c.KvDim, hd = _c.HeadDim, vocab = _c.Vocab;
        if (n < 1 || n > MaxTokens) throw new ArgumentOutOfRangeException(nameof(tokens), $"1 to {MaxTokens} tokens per pass.");
        int wanted = 0;
        foreach (var t in tokens)
        {
            if ((uint)t.Token >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {t.Token} is outside the vocabulary (0..{vocab - 1}).");
            if (t.Cache is null || t.Cache.Capacity > _s.MaxKvCapacity || t.Cache.KvDim != kvDim || t.Cache.Layers != _c.Layers || t.Cache.HeadDim != hd)
                throw new ArgumentException("A cache does not fit this model or this pass's scratch.", nameof(tokens));
            if (t.Position < 0 || (_window is null && t.Position >= t.Cache.Capacity))
                throw new ArgumentOutOfRangeException(nameof(tokens), $"position {t.Position} is outside the cache (0..{t.Cache.Capacity - 1}).");
            if (t.WantLogits) wanted++;
        }
        if (logits.Length < (long)wanted * vocab) throw new ArgumentException("Logits buffer too small.", nameof(logits));
        var s = _s;
        var x = s.X.AsSpan(0, n * dim);
        tokens.CopyTo(s.Tokens);

        // Token embeddings (quantized rows are dequantized on lookup); RoPE angles, which depend only on the position,
        // once per token for every layer.
        int half = _c.RopeDim / 2;
        for (int t = 0; t < n; t++)
        {
            Quantization.RowCodec.Decode(_w.TokenEmbedding.Type, _w.TokenEmbedding.Row(tokens[t].Token), x.Slice(t * dim, dim));
            Ops.RopeAngles(tokens[t].Position, _c.RopeTheta, _c.RopeDim, s.Cos.AsSpan(t * half, half), s.Sin.AsSpan(t * half, half));
        }

        for (int l = 0; l < _c.Layers; l++)
        {
            var L = _w.Layers[l];

            // Attention: RMSNorm → Q, K, V projections.
            PerToken(TokenStep.AttnNorm, L, n);
            _mm.Multiply(L.Wq, s.Xb, n, s.Q);
            _mm.Multiply(L.Wk, s.Xb, n, s.K, sameInput: true);
            _mm.Multiply(L.Wv, s.Xb, n, s.V, sameInput: true);

            // RoPE on Q and K (adjacent pairs, GGUF layout) at each token's position; every key and value is stored
            // in its sequence's cache before any token attends.
            for (int t = 0; t < n; t++)
            {
                var cos = s.Cos.AsSpan(t * half, half);
                var sin = s.Sin.AsSpan(t * half, half);
                for (int h = 0; h < _c.Heads; h++) Ops.RopeAdjacent(s.Q.AsSpan(t * dim + h * hd, hd), cos, sin);
                for (int h = 0; h < _c.KvHeads; h++) Ops.RopeAdjacent(s.K.AsSpan(t * kvDim + h * hd, hd), cos, sin);
                tokens[t].Cache.Store(l, tokens[t].Position, s.K.AsSpan(t * kvDim, kvDim), s.V.AsSpan(t * kvDim, kvDim));
            }

            // Grouped-query attention over each token's cache, heads in parallel.
            bool profile = _profile is { Enabled: true };
            long a0 = profile ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            _attend.Set(l, n);
            _pool.Run(_attend, _attend.Items);
            if (profile) _profile!.Ticks[KernelProfile.AttentionIndex] += System.Diagnostics.Stopwatch.GetTimestamp() - a0;

            // Output projection and residual.
            _mm.Multiply(L.Wo, s.Ao, n, s.Xb);
            TensorPrimitives.Add(x, s.Xb.AsSpan(0, n * dim), x);

            // FFN: RMSNorm → SwiGLU (silu(gate) · up) → down, residual.
            PerToken(TokenStep.FfnNorm, L, n);
            _mm.Multiply(L.Gate, s.Xb, n, s.Gate);
            _mm.Multiply(L.Up, s.Xb, n, s.Up, sameInput: true);
            PerToken(TokenStep.SwiGlu, L, n);
            _mm.Multiply(L.Down, s.Gate, n, s.Xb);
            TensorPrimitives.Add(x, s.Xb.AsSpan(0, n * dim), x);
        }

        // Final RMSNorm of the wanted tokens only, gathered contiguously, then one output matmul for all of them.
        if (wanted == 0) return;
        var outNorm = new ReadOnlySpan<float>(_w.OutputNorm, dim);
        int row = 0;
        for (int t = 0; t < n; t++)
            if (tokens[t].WantLogits) Ops.RmsNorm(x.Slice(t * dim, dim), outNorm, _c.RmsEps, s.Xb.AsSpan(row++ * dim, dim));
        _mm.Multiply(_w.Output, s.Xb, wanted, logits);
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
                Ops.RmsNorm(_s.X.AsSpan(t * dim, dim), new ReadOnlySpan<float>(layer.AttnNorm, dim), _c.RmsEps, _s.Xb.AsSpan(t * dim, dim));
                break;
            case TokenStep.FfnNorm:
                Ops.RmsNorm(_s.X.AsSpan(t * dim, dim), new ReadOnlySpan<float>(layer.FfnNorm, dim), _c.RmsEps, _s.Xb.AsSpan(t * dim, dim));
                break;
            default:
                Ops.SiluMul(_s.Gate.AsSpan(t * ffn, ffn), _s.Up.AsSpan(t * ffn, ffn));
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
    /// softmax(q·Kᵀ/√d)·V for every token of the pass (each sees its own cache's positions up to its own, within the
    /// sliding window), into the attention output. One instance, reused: an attention step allocates nothing.
    /// </summary>
    private sealed class AttendWork(Transformer o) : IParallelWork
    {
        private int _layer, _count;

        /// <summary>
        /// Positions whose F16 rows a prompt's queries share converted (<see cref="CachedAttention.AttendHalfPrompt"/>):
        /// a query that sees more positions than this is attended on its own (<see cref="CachedAttention.AttendGroup"/>).
        /// </summary>
        private const int PromptRows = 4096;

        // One buffer of converted rows (keys and values) per thread of the pool: made with the pass, for passes of more
        // than one token where the items are KV-head groups (Grouped), so a prompt step allocates nothing; an item takes a
        // free one for its run (at most one item per thread runs at a time). 4 MB each for the 7B.
        private readonly float[][] _rows = o._s.MaxTokens > 1 && o._pool.Threads <= o._c.KvHeads
            ? Enumerable.Range(0, o._pool.Threads).Select(_ => GC.AllocateUninitializedArray<float>(checked(2 * Math.Min(PromptRows, o._s.MaxKvCapacity) * o._c.HeadDim))).ToArray()
            : [];
        private readonly int[] _rowsTaken = new int[o._pool.Threads];

        public void Set(int layer, int count) => (_layer, _count) = (layer, count);

        /// <summary>
        /// Work items: for several tokens one per KV head, its query heads attended together
        /// (<see cref="CachedAttention.AttendGroup"/>: each key row read once per token rather than once per head); one
        /// per query head for a single token over an F32 cache, or when there are more threads than KV heads (8 items
        /// would leave the rest idle). Both give every head the same result, bit for bit.
        /// </summary>
        public int Items => Grouped ? o._c.KvHeads : o._c.Heads;

        // An F16 cache's rows are converted to floats once per group rather than once per head, which pays even for one
        // token (decoding over 2048 positions at head size 128: 2.5 ms a layer grouped, 6.2 ms head by head; F32 3.1 ms).
        private bool Grouped => (_count > 1 || o._s.Tokens[0].Cache.Type == KvCacheType.F16) && o._pool.Threads <= o._c.KvHeads;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int item)
        {
            var c = o._c;
            var s = o._s;
            int hd = c.HeadDim, stride = s.MaxKvCapacity;
            int heads = Grouped ? c.GroupSize : 1;
            int h = item * heads; // first query head
            int kvOff = h / c.GroupSize * hd;
            int stride0 = ForwardState.KvTmpStride(c);
            var tmp = s.KvTmp.AsSpan(h * stride0, Kernels.CachedAttention.ScratchLength(hd, heads));
            float scale = 1f / MathF.Sqrt(hd);
            var tokens = s.Tokens;
            int slot = -1;
            try
            {
                for (int t = 0; t < _count;)
                {
                    var cache = tokens[t].Cache;
                    int pos = tokens[t].Position;
                    int first = First(pos);
                    int count = pos - first + 1;
                    // A run of this sequence's next positions (a prompt chunk) attending from the same first position
                    // shares one conversion of an F16 cache's rows.
                    int run = 1;
                    if (cache.Type == KvCacheType.F16 && Grouped && _rows.Length > 0)
                        while (t + run < _count && tokens[t + run].Cache == cache && tokens[t + run].Position == pos + run && First(pos + run) == first
                               && count + run <= Math.Min(PromptRows, Math.Min(s.MaxKvCapacity, cache.Capacity)))
                            run++;
                    if (run > 1 && (slot >= 0 || (slot = TakeRows()) >= 0))
                    {
                        CachedAttention.AttendHalfPrompt(cache, _layer, first, count, run, kvOff, hd, heads, s.Q.AsSpan(t * c.Dim + h * hd), c.Dim, scale,
                            s.Scores.AsSpan(h * stride, heads * stride), stride, s.Ao.AsSpan(t * c.Dim + h * hd), c.Dim, tmp, _rows[slot]);
                        t += run;
                        continue;
                    }
                    CachedAttention.AttendGroup(cache, _layer, first, count, kvOff, hd, heads, s.Q.AsSpan(t * c.Dim + h * hd, heads * hd), scale,
                        s.Scores.AsSpan(h * stride, (heads - 1) * stride + count), stride, s.Ao.AsSpan(t * c.Dim + h * hd, heads * hd), tmp);
                    t++;
                }
            }
            finally
            {
                if (slot >= 0) Volatile.Write(ref _rowsTaken[slot], 0);
            }
        }

        private int First(int pos) => o._window is int w ? Math.Max(0, pos - w + 1) : 0;

        /// <summary>A free buffer of <see cref="_rows"/> for this item, or −1 (never expected: at most one item per thread runs at a time).</summary>
        private int TakeRows()
        {
            for (int i = 0; i < _rows.Length; i++)
                if (Interlocked.CompareExchange(ref _rowsTaken[i], 1, 0) == 0) return i;
            return -1;
        }
    }
}
