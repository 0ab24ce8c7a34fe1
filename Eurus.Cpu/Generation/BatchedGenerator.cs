using System.Diagnostics;
using System.Runtime.InteropServices;
using Eurus.Cpu.Generation.Speculation;
using Eurus.Cpu.Model;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Generation;

/// <summary>
/// Generates for many requests at once (continuous batching, as a server needs): up to
/// <see cref="BatchedGeneratorOptions.MaxSequences"/> sequences decode together, one pass over the weights per step
/// serving all of them, each with its own KV cache, sampler and stop strings. A request that finds every slot busy
/// waits in a bounded queue; a full queue raises <see cref="QueueFullException"/> at once. A request's tokens equal
/// those an <see cref="InferenceSession"/> gives for the same prompt and settings (same seed), whatever else runs
/// beside it. Thread-safe; one background thread runs the steps, on the model's worker pool (shared with the model's
/// sessions: their passes and this generator's steps take turns). With <see cref="BatchedGeneratorOptions.PromptCache"/>
/// (the default) each slot keeps its last request's tokens and KV, and a request whose prompt starts with them (the
/// next turn of a conversation) evaluates only its new tokens.
/// </summary>
/// <example>
/// <code>
/// using var model = EurusModel.Load("eurus-7b-kto.Q4_0.gguf");
/// using var generator = new BatchedGenerator(model, new BatchedGeneratorOptions { MaxSequences = 8 });
/// var a = generator.Submit(model.Tokenizer.Encode("[INST] Hi [/INST]"), SamplingSettings.Greedy, cancellationToken);
/// var b = generator.Submit(model.Tokenizer.Encode("[INST] Bye [/INST]"), SamplingSettings.Greedy, cancellationToken);
/// await foreach (var token in a) Console.Write(token.Text);   // b decodes meanwhile, in the same steps
/// Console.WriteLine((await a.Completion).FinishReason);
/// </code>
/// </example>
public sealed partial class BatchedGenerator : IDisposable
{
    private readonly EurusModel _model;
    private readonly Transformer _forward;
    private readonly int? _window;
    private readonly int _capacity;
    private readonly int _batch;
    private readonly Slot[] _slots;
    private readonly LinkedList<Sequence> _queue = new();
    private readonly object _lock = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _thread;
    private readonly float[] _logits;
    private volatile bool _stopping;
    private int _active;
    private long _steps, _stepTokens, _clock;

    /// <summary>Creates the generator and starts its decode thread. <paramref name="model"/> must outlive it.</summary>
    public BatchedGenerator(EurusModel model, BatchedGeneratorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ObjectDisposedException.ThrowIf(model.IsDisposed, model);
        options ??= new BatchedGeneratorOptions();
        options.Validate();
        _model = model;
        Options = options;
        var c = model.Config;
        _batch = model.PromptBatch;
        int stepTokens = options.StepTokens == 0 ? Math.Max(options.MaxSequences, _batch) : options.StepTokens;
        _window = model.AttentionWindow;
        _capacity = model.KvCapacity;
        // Every slot's KV cache and the step's buffers, sized in long and checked against the memory this process may
        // use before anything is allocated; then all of it is allocated here, so a busy server never runs out mid-way.
        var sizes = RunSizes.For(c, model.ContextLength, _batch, _window, model.Options.KvCacheType, options.MaxSequences, stepTokens);
        if (sizes.FirstTooLarge() is var (problem, _))
            throw new ArgumentOutOfRangeException(nameof(options), $"A batched generator of {options.MaxSequences} sequences × {model.ContextLength} positions, {stepTokens} tokens per step: {problem}.");
        sizes.CheckMemory(RunSizes.AvailableBytes, $"A batched generator of {options.MaxSequences} sequences × {model.ContextLength} positions");
        MemoryBytes = sizes.TotalBytes;
        _slots = new Slot[options.MaxSequences];
        for (int i = 0; i < _slots.Length; i++)
            _slots[i] = new Slot { Cache = new KvCache(c.Layers, c.KvDim, _capacity, model.Options.KvCacheType, c.HeadDim) };
        _forward = new Transformer(c, model.Weights, stepTokens, _capacity, model.Compute, _window);
        _logits = GC.AllocateArray<float>(checked(stepTokens * c.Vocab), pinned: true);
        _thread = new Thread(Loop) { IsBackground = true, Name = "Eurus batched decode" };
        _thread.Start();
    }

    /// <summary>The options in effect.</summary>
    public BatchedGeneratorOptions Options { get; }

    /// <summary>
    /// Bytes this generator holds: every slot's KV cache, allocated when it is created, and the step's scratch (an
    /// estimate within a few percent). Creating it fails with <see cref="InsufficientMemoryException"/> when that is more
    /// than this process may use.
    /// </summary>
    public long MemoryBytes { get; }

    /// <summary>The model this generator runs.</summary>
    public EurusModel Model => _model;

    /// <summary>Positions per sequence (prompt and generated tokens together).</summary>
    public int ContextLength => _model.ContextLength;

    /// <summary>Sequences being decoded now.</summary>
    public int ActiveSequences => Volatile.Read(ref _active);

    /// <summary>Forward steps run so far (one pass over the weights each).</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Tokens evaluated by those steps (prompt and generated); more than <see cref="Steps"/> when sequences shared steps.</summary>
    public long StepTokens => Interlocked.Read(ref _stepTokens);

    /// <summary>Requests waiting for a slot.</summary>
    public int QueuedRequests { get { lock (_lock) return _queue.Count; } }

    /// <summary>A snapshot of every slot: busy or idle, and how many tokens its prompt cache holds.</summary>
    public IReadOnlyList<BatchedSlot> GetSlots()
    {
        var slots = new BatchedSlot[_slots.Length];
        for (int i = 0; i < slots.Length; i++)
        {
            var slot = _slots[i];
            slots[i] = new BatchedSlot(i, Volatile.Read(ref slot.Busy), Volatile.Read(ref slot.Published), Volatile.Read(ref slot.LastUsed));
        }
        return slots;
    }

    /// <summary>
    /// Submits a generation of up to <see cref="SamplingSettings.MaxTokens"/> tokens after <paramref name="promptTokens"/>
    /// (used as given: add BOS yourself). Validates at once: throws <see cref="ArgumentException"/> for bad settings or
    /// token ids, <see cref="ContextFullException"/> when the prompt does not fit and <see cref="QueueFullException"/>
    /// when the queue is full. Cancelling <paramref name="cancellationToken"/> stops it and frees its slot.
    /// </summary>
    public BatchedGeneration Submit(IReadOnlyList<int> promptTokens, SamplingSettings? settings = null, CancellationToken cancellationToken = default) =>
        Submit(promptTokens, settings, Options.PromptCache, cancellationToken);

    /// <summary>
    /// As <see cref="Submit(IReadOnlyList{int}, SamplingSettings?, CancellationToken)"/>; <paramref name="reuseCachedPrompt"/>
    /// false evaluates the whole prompt even when a slot holds a prefix of it (the slot still remembers it afterwards,
    /// when <see cref="BatchedGeneratorOptions.PromptCache"/> is on).
    /// </summary>
    public BatchedGeneration Submit(IReadOnlyList<int> promptTokens, SamplingSettings? settings, bool reuseCachedPrompt, CancellationToken cancellationToken = default)
    {
        settings = Check(promptTokens, settings);
        var generation = new BatchedGeneration(promptTokens.Count, cancellationToken);
        var seq = new Sequence(generation, [.. promptTokens], settings, new GenerationStep(settings, _model.Tokenizer, ContextLength))
        {
            ReuseCache = reuseCachedPrompt && Options.PromptCache,
            Lookup = settings.Speculation is { } sp ? new SlotLookup(sp, _batch, _model.Config.Vocab) : null,
        };
        Enqueue(seq);
        return generation;
    }

    /// <summary>Validates a submission: the settings (defaults when null) and the prompt's length and ids.</summary>
    private SamplingSettings Check(IReadOnlyList<int> promptTokens, SamplingSettings? settings)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        ObjectDisposedException.ThrowIf(_stopping, this);
        settings ??= new SamplingSettings();
        settings.Validate();
        if (settings.Speculation is { DraftModel: { } draft }) DraftModelDrafter.CheckVocabulary(draft, _model, nameof(settings));
        if (promptTokens.Count == 0) throw new ArgumentException("The prompt has no tokens.", nameof(promptTokens));
        if (promptTokens.Count > ContextLength)
            throw _model.ContextFull("The prompt", promptTokens.Count);
        int vocab = _model.Config.Vocab;
        foreach (int t in promptTokens)
            if ((uint)t >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(promptTokens), $"token id {t} is outside the vocabulary (0..{vocab - 1}).");
        return settings;
    }

    /// <summary>Queues <paramref name="seq"/> (with its followers, one entry), or throws <see cref="QueueFullException"/>.</summary>
    private void Enqueue(Sequence seq)
    {
        lock (_lock)
        {
            int free = _slots.Length - _active;
            if (_queue.Count >= Options.QueueCapacity + Math.Max(0, free))
                throw new QueueFullException($"All {_slots.Length} slots are busy and {_queue.Count} requests are waiting (queue capacity {Options.QueueCapacity}).");
            // Registered before the loop can see it, so End always disposes the registration.
            seq.CancelRegistration = seq.Generation.Cancellation.Register(Wake);
            if (seq.Followers is not null)
                foreach (var f in seq.Followers) f.CancelRegistration = f.Generation.Cancellation.Register(Wake);
            _queue.AddLast(seq);
        }
        Wake();
    }

    /// <summary>Stops the decode thread; unfinished generations end with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Set();
        _thread.Join();
        var error = new ObjectDisposedException(nameof(BatchedGenerator));
        lock (_lock)
        {
            foreach (var s in _queue) EndGroup(s, FinishReason.Cancelled, error);
            _queue.Clear();
        }
        foreach (var slot in _slots)
        {
            if (slot.Sequence is { } s) End(s, FinishReason.Cancelled, error);
            slot.Drafter?.Dispose();
        }
        _forward.Dispose();
        _wake.Dispose();
    }

    private void Wake()
    {
        try { _wake.Set(); } catch (ObjectDisposedException) { }
    }

    private void Loop()
    {
        var step = new List<SequenceToken>();
        var wanting = new List<Sequence>();
        while (!_stopping)
        {
            Admit();
            step.Clear();
            wanting.Clear();
            int budget = _forward.MaxTokens, decoding = 0;
            foreach (var slot in _slots)
                if (slot.Sequence is { Pending: 1, Prefilled: true }) decoding++;
            // Decode tokens first (one per sequence, and its draft — prompt lookup, or the slot's draft model — while
            // every other decoding sequence still has room), so running streams are never starved by a long new prompt.
            foreach (var slot in _slots)
            {
                if (slot.Sequence is not { } s || s.Pending != 1 || !s.Prefilled) continue;
                step.Add(new SequenceToken(s.Tokens[^1], s.Tokens.Count - 1, slot.Cache!, true));
                wanting.Add(s);
                budget--;
                decoding--;
                if (s.Lookup is { } lookup)
                {
                    int k = lookup.Draft(s.Tokens, Math.Min(budget - decoding, Math.Min(s.Settings.MaxTokens - s.Step.Generated - 1, ContextLength - s.Tokens.Count)),
                        s.Step.DraftSampler, s.Step.Grammar);
                    for (int i = 0; i < k; i++) step.Add(new SequenceToken(lookup.Tokens[i], s.Tokens.Count + i, slot.Cache!, true));
                    budget -= k;
                    s.Stored = Math.Max(s.Stored, s.Tokens.Count + k);
                }
            }
            foreach (var slot in _slots)
            {
                if (slot.Sequence is not { } s || s.Prefilled || s.Leader is not null || budget == 0) continue;
                int n = Math.Min(Math.Min(s.Pending, budget), _batch);
                for (int i = 0; i < n; i++)
                {
                    int pos = s.Evaluated + i;
                    bool last = pos == s.Tokens.Count - 1;
                    step.Add(new SequenceToken(s.Tokens[pos], pos, slot.Cache!, last));
                    if (last) wanting.Add(s);
                }
                s.Chunk = n;
                budget -= n;
            }
            if (step.Count == 0)
            {
                _wake.WaitOne();
                continue;
            }
            try
            {
                _forward.Forward(CollectionsMarshal.AsSpan(step), _logits);
                Interlocked.Increment(ref _steps);
                Interlocked.Add(ref _stepTokens, step.Count);
            }
            catch (Exception e)
            {
                // Not expected (inputs were validated at submission); fail the step's sequences, keep serving.
                foreach (var slot in _slots)
                    if (slot.Sequence is { } s)
                    {
                        s.Evaluated = 0; // its cache may hold part of the failed step: keep none of it
                        Release(slot, FinishReason.Cancelled, e);
                    }
                continue;
            }
            foreach (var slot in _slots)
                if (slot.Sequence is { } s)
                {
                    if (!s.Prefilled) { s.Evaluated += s.Chunk; s.Chunk = 0; }
                    else if (s.Pending == 1) s.Evaluated++;
                    s.Stored = Math.Max(s.Stored, s.Evaluated);
                    Volatile.Write(ref slot.Published, s.Evaluated);
                }
            int vocab = _model.Config.Vocab, row = 0;
            for (int i = 0; i < wanting.Count; i++)
            {
                var s = wanting[i];
                int rows = 1 + (s.Prefilled ? s.Lookup?.Count ?? 0 : 0);
                if (!s.Prefilled)
                {
                    s.Prefilled = true;
                    s.PromptSeconds = s.Clock.Elapsed.TotalSeconds;
                    s.Clock.Restart();
                    if (s.Followers is not null) ShareFirstStep(s, _logits.AsSpan(i * vocab, vocab));
                }
                FinishReason reason;
                Exception? error = null;
                try
                {
                    // The sampler runs on each row in order; a sampled token equal to the draft token after it is in
                    // the cache already (its row follows). The rest of a rejected draft stays as stale cache entries.
                    // A sampled draft token is kept with probability min(1, p/q), else replaced from max(0, p − q).
                    reason = FinishReason.None;
                    for (int j = 0; j < rows; j++)
                    {
                        int drafted = s.Prefilled && s.Lookup is { } l ? l.SampledToken(j) : -1;
                        reason = Next(s, _logits.AsSpan((row + j) * vocab, vocab), drafted, drafted >= 0 ? s.Lookup!.Distribution(j) : default);
                        if (reason != FinishReason.None || s.Lookup is not { } lookup || !lookup.Accept(j, s.Tokens[^1])) break;
                        s.Evaluated++;
                    }
                    Volatile.Write(ref s.Slot!.Published, s.Evaluated);
                }
                catch (Exception e) { reason = FinishReason.Cancelled; error = e; }
                row += rows;
                if (reason == FinishReason.Cancelled) error ??= new OperationCanceledException(s.Generation.Cancellation);
                if (reason != FinishReason.None) Release(s.Slot!, reason, error);
            }
        }
    }

    /// <summary>Samples one token for <paramref name="s"/> from its logits: the same <see cref="GenerationStep"/> as <see cref="InferenceSession"/>.</summary>
    private static FinishReason Next(Sequence s, ReadOnlySpan<float> logits) => Next(s, logits, -1, default);

    /// <summary>As <see cref="Next(Sequence, ReadOnlySpan{float})"/>, verifying a sampled draft token <paramref name="draft"/> drawn from <paramref name="q"/> (−1: none).</summary>
    private static FinishReason Next(Sequence s, ReadOnlySpan<float> logits, int draft, ReadOnlySpan<float> q)
    {
        if (s.Generation.Cancellation.IsCancellationRequested) return FinishReason.Cancelled;
        var (reason, token) = s.Step.Next(logits, s.Tokens, draft, q);
        if (token is { } t) s.Generation.Writer.TryWrite(t);
        if (reason != FinishReason.None && s.Step.Rest(reason) is { Length: > 0 } rest) s.Generation.Writer.TryWrite(new GeneratedToken(-1, rest));
        return reason;
    }

    /// <summary>Moves waiting requests into free slots and ends cancelled ones.</summary>
    private void Admit()
    {
        foreach (var slot in _slots)
            if (slot.Sequence is { } s && s.Generation.Cancellation.IsCancellationRequested)
                Release(slot, FinishReason.Cancelled, new OperationCanceledException(s.Generation.Cancellation));
        lock (_lock)
        {
            bool blocked = false; // a group waiting for its slots: later requests wait behind it (no starvation)
            for (var node = _queue.First; node is not null;)
            {
                var next = node.Next;
                var s = node.Value;
                if (s.Generation.Cancellation.IsCancellationRequested)
                {
                    // A cancelled group leader hands the group to its first follower, which is looked at next.
                    if (Promote(s) is { } heir) next = _queue.AddAfter(node, heir);
                    _queue.Remove(node);
                    End(s, FinishReason.Cancelled, new OperationCanceledException(s.Generation.Cancellation));
                }
                else if (s.Settings.MaxTokens == 0)
                {
                    _queue.Remove(node);
                    EndGroup(s, FinishReason.MaxTokens, null);
                }
                else if (s.Followers is not null)
                {
                    if (!blocked && _slots.Length - _active > s.Followers.Length)
                    {
                        _queue.Remove(node);
                        StartGroup(s);
                    }
                    else blocked = true;
                }
                else if (!blocked && Choose(s) is { } free)
                {
                    _queue.Remove(node);
                    Start(free, s);
                    _active++;
                }
                node = next;
            }
        }
    }

    /// <summary>
    /// The idle slot for <paramref name="s"/>, or null when none is idle. With the prompt cache, the slot (idle or busy)
    /// holding the longest usable prefix of its prompt is the source: an idle source whose tokens the prompt mostly
    /// continues (it keeps at least half of them: the next turn of that conversation) is taken as it is; otherwise the
    /// least recently used idle slot is taken and <see cref="Start"/> copies the prefix into it, so a prompt that shares
    /// only a beginning (BOS, a system prompt) with another conversation does not evict that conversation.
    /// </summary>
    private Slot? Choose(Sequence s)
    {
        Slot? lru = null, source = null;
        int reuse = 0;
        foreach (var slot in _slots)
        {
            if (slot.Sequence is null && (lru is null || slot.LastUsed < lru.LastUsed)) lru = slot;
            int r = s.ReuseCache ? Reusable(slot, s.Tokens) : 0;
            // Ties: an idle slot before a busy one (no copy), then the most recently used.
            if (r > reuse || (r == reuse && r > 0 && (source!.Sequence is not null && slot.Sequence is null
                || (source.Sequence is null) == (slot.Sequence is null) && slot.LastUsed > source.LastUsed)))
            {
                source = slot;
                reuse = r;
            }
        }
        s.Reuse = reuse;
        s.CopyFrom = null;
        if (lru is null) return null;
        if (source is null) return lru;
        if (source.Sequence is null && 2L * reuse >= source.Valid) return source;
        if (source != lru) s.CopyFrom = source;
        return lru;
    }

    /// <summary>
    /// Tokens of <paramref name="prompt"/> whose keys and values <paramref name="slot"/> holds (its cached tokens'
    /// common prefix with the prompt), leaving at least the last prompt token to evaluate (its logits are needed).
    /// Under a sliding window the ring buffer must still hold the window before that point; else nothing is reused.
    /// </summary>
    private int Reusable(Slot slot, List<int> prompt)
    {
        var cached = slot.Sequence?.Tokens ?? slot.Cached;
        int valid = slot.Sequence?.Evaluated ?? slot.Valid;
        if (cached is null || valid == 0) return 0;
        int limit = Math.Min(Math.Min(valid, cached.Count), prompt.Count - 1), n = 0;
        while (n < limit && cached[n] == prompt[n]) n++;
        // Every position written since the ring was last refilled from 0 (drafts included) may have overwritten a slot.
        int stored = Math.Max(valid, slot.Sequence?.Stored ?? slot.Stored);
        if (_window is int w && stored - n > _capacity - w) return 0;
        return n;
    }

    /// <summary>Puts <paramref name="s"/> in <paramref name="slot"/>, its cached prefix in place (copied from another slot if chosen so).</summary>
    private void Start(Slot slot, Sequence s)
    {
        if (s.CopyFrom is { } source) source.Cache.CopyPrefixTo(slot.Cache, s.Reuse);
        // What the ring may hold beyond the reused prefix: both slots' writes (nothing, when evaluating from 0).
        s.Stored = s.Reuse == 0 ? 0 : Math.Max(slot.Stored, s.CopyFrom is { } from ? Math.Max(from.Stored, from.Sequence?.Stored ?? 0) : 0);
        s.CopyFrom = null;
        s.Evaluated = s.Reuse;
        if (s.Lookup is { } lookup && s.Settings.Speculation!.DraftModel is { } draftModel)
        {
            // The slot keeps its drafter (the draft model's session and KV) for its next requests: a next turn drafts
            // after evaluating only its new tokens in the draft model too.
            if (slot.Drafter?.Model != draftModel)
            {
                slot.Drafter?.Dispose();
                slot.Drafter = new DraftModelDrafter(draftModel, _model);
            }
            lookup.Use(slot.Drafter);
        }
        slot.Sequence = s;
        slot.Cached = null;
        slot.Valid = 0;
        slot.LastUsed = ++_clock;
        Volatile.Write(ref slot.Published, s.Evaluated);
        Volatile.Write(ref slot.Busy, true);
        s.Slot = slot;
        s.Clock.Start();
    }

    private void Release(Slot slot, FinishReason reason, Exception? error)
    {
        var s = slot.Sequence!;
        slot.Sequence = null;
        if (s.Followers is not null) Orphan(s);
        // The slot remembers what its cache holds: the sequence's tokens up to the last one evaluated.
        slot.Cached = s.Tokens;
        slot.Valid = s.Evaluated;
        slot.Stored = Math.Max(s.Stored, s.Evaluated);
        slot.LastUsed = ++_clock;
        Volatile.Write(ref slot.Published, s.Evaluated);
        Volatile.Write(ref slot.Busy, false);
        lock (_lock) _active--;
        End(s, reason, error);
    }

    private static void End(Sequence s, FinishReason reason, Exception? error)
    {
        s.CancelRegistration.Dispose();
        bool prefilled = s.Prefilled;
        s.Generation.Finish(new GenerationTimings
        {
            PromptTokens = s.Generation.PromptTokens - s.Reuse,
            CachedPromptTokens = s.Reuse,
            PromptSeconds = prefilled ? s.PromptSeconds : s.Clock.Elapsed.TotalSeconds,
            GeneratedTokens = s.Step.Generated,
            DecodeSeconds = prefilled ? s.Clock.Elapsed.TotalSeconds : 0,
            DraftTokens = s.Lookup?.Drafted ?? 0,
            AcceptedDraftTokens = s.Lookup?.Accepted ?? 0,
            FinishReason = reason,
        }, error);
    }

    private sealed class Slot
    {
        public required KvCache Cache;
        public Sequence? Sequence;
        /// <summary>The slot's draft-model drafter (created by the first request with a draft model), kept with the slot.</summary>
        public DraftModelDrafter? Drafter;
        /// <summary>Idle: the tokens of the last sequence, of which the first <see cref="Valid"/> are in <see cref="Cache"/>.</summary>
        public List<int>? Cached;
        public int Valid;
        /// <summary>Positions written since the cache was last filled from 0 (speculative drafts may pass <see cref="Valid"/>).</summary>
        public int Stored;
        public long LastUsed;
        // For GetSlots on other threads: the cached token count and whether it is busy, written by the decode thread.
        public int Published;
        public bool Busy;
    }

    private sealed partial class Sequence(BatchedGeneration generation, List<int> tokens, SamplingSettings settings, GenerationStep step)
    {
        public readonly BatchedGeneration Generation = generation;
        public readonly List<int> Tokens = tokens;
        public readonly SamplingSettings Settings = settings;
        public readonly GenerationStep Step = step;
        public readonly Stopwatch Clock = new();
        public CancellationTokenRegistration CancelRegistration;
        public Slot? Slot;
        public int Evaluated;
        /// <summary>Positions this sequence's cache may hold writes for (≥ <see cref="Evaluated"/>: rejected drafts).</summary>
        public int Stored;
        /// <summary>Speculative decoding's drafts: prompt lookup or the slot's draft model (null: off).</summary>
        public SlotLookup? Lookup;
        public int Chunk;
        public bool Prefilled;
        public bool ReuseCache;
        /// <summary>Prompt tokens taken from the slot's cache (set when it gets a slot).</summary>
        public int Reuse;
        /// <summary>A busy slot whose prefix is copied into this sequence's slot when it starts.</summary>
        public Slot? CopyFrom;
        public double PromptSeconds;
        public int Pending => Tokens.Count - Evaluated;
    }
}
