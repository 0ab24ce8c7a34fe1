using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Eurus.Cpu.Model;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Generation;

/// <summary>
/// One conversation: its tokens and KV cache. Each call continues where the last one stopped, so a follow-up prompt
/// evaluates only its new tokens. Not thread-safe: use one session per concurrent conversation. Sessions of one model
/// share its worker pool and take turns on it, token by token (see <see cref="EurusModel"/>).
/// </summary>
/// <remarks>
/// <see cref="GenerateAsync"/> and <see cref="GenerateTokensAsync"/> never compute on the caller's synchronization
/// context: before every forward pass they move to the thread pool (allocation-free), so a UI thread that consumes the
/// stream only receives the text. Cancellation is checked before every token. <see cref="SaveState"/> and
/// <see cref="LoadState"/> store and restore the conversation (tokens and KV cache).
/// </remarks>
public sealed class InferenceSession : IDisposable
{
    private readonly EurusModel _model;
    private readonly Transformer _transformer;
    private readonly KvCache _cache;
    private readonly int? _window;
    private readonly List<int> _tokens = [];
    private int _evaluated;
    private int _stored; // positions whose slots the cache has written since it was last refilled from 0 (≥ _evaluated)
    private Speculation.SpeculativeStep? _speculative;
    private readonly OffContext _offContext = new();
    private bool _busy;
    private bool _disposed;

    internal InferenceSession(EurusModel model)
    {
        _model = model;
        var c = model.Config;
        int batch = model.PromptBatch, capacity = model.KvCapacity;
        _window = model.AttentionWindow;
        _cache = new KvCache(c.Layers, c.KvDim, capacity, model.Options.KvCacheType, c.HeadDim);
        _transformer = new Transformer(c, model.Weights, batch, capacity, model.Compute, _window);
        _tokens.Capacity = model.ContextLength; // the conversation never outgrows the context: no regrowth while decoding
    }

    /// <summary>Every token of the conversation so far (prompt and generated).</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    /// <summary>Positions available in this session.</summary>
    public int ContextLength => _model.ContextLength;

    /// <summary>Bytes held by the KV cache (<see cref="EurusModel.KvCacheBytes"/>).</summary>
    public long KvCacheBytes => _cache.Bytes;

    /// <summary>Counts and timings of the most recent generation.</summary>
    public GenerationTimings? LastTimings { get; private set; }

    /// <summary>Forgets the conversation.</summary>
    public void Reset()
    {
        _tokens.Clear();
        _evaluated = 0;
        _stored = 0;
    }

    /// <summary>
    /// Appends <paramref name="tokens"/> to the conversation, evaluates them and returns the logits after the last one
    /// (valid until the next call). Throws <see cref="ContextFullException"/> (changing nothing) if they do not fit.
    /// </summary>
    public ReadOnlySpan<float> Evaluate(ReadOnlySpan<int> tokens)
    {
        Append(tokens);
        Flush(default);
        return _transformer.LastLogits;
    }

    /// <summary>
    /// Appends and evaluates <paramref name="tokens"/>, writing the logits after every one of them into
    /// <paramref name="logits"/> ([tokens × vocab]); used for perplexity and for checking against other engines.
    /// </summary>
    public void EvaluateAll(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        int vocab = _model.Config.Vocab;
        if (logits.Length < (long)tokens.Length * vocab) throw new ArgumentException("Logits buffer too small.", nameof(logits));
        Flush(default);
        Append(tokens);
        int b = _transformer.MaxTokens;
        for (int i = 0; i < tokens.Length; i += b)
        {
            int n = Math.Min(b, tokens.Length - i);
            _transformer.Forward(tokens.Slice(i, n), _evaluated, _cache, logits.Slice(checked(i * vocab), checked(n * vocab)));
            _evaluated += n;
            _stored = Math.Max(_stored, _evaluated);
        }
    }

    /// <summary>Drops the conversation back to its first <paramref name="count"/> tokens (e.g. to edit the last turn).</summary>
    public void Rewind(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _tokens.Count);
        int dropped = _tokens.Count - count;
        _tokens.RemoveRange(count, dropped);
        // In ring-buffer mode, slots of positions still needed may have been overwritten (by every position stored since
        // the last refill, speculative drafts included): re-evaluate then.
        if (_window is int w && _stored - count > _cache.Capacity - w)
            _evaluated = _stored = 0;
        else
            _evaluated = Math.Min(_evaluated, count);
    }

    /// <summary>
    /// Generates a continuation of the conversation after <paramref name="prompt"/> (BOS is added when the session
    /// is empty), streaming text pieces. A UTF-8 character split across tokens arrives once complete.
    /// </summary>
    public async IAsyncEnumerable<string> GenerateAsync(string prompt, SamplingSettings? settings = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var ids = _model.Tokenizer.Encode(prompt, addBos: _tokens.Count == 0 && _model.Tokenizer.AddBos);
        await foreach (var t in GenerateTokensAsync(ids, settings, cancellationToken).ConfigureAwait(false))
            if (t.Text.Length > 0) yield return t.Text;
    }

    /// <summary>
    /// Token-level generation: appends <paramref name="promptTokens"/> (nothing is added to them), then samples up to
    /// <see cref="SamplingSettings.MaxTokens"/> tokens. <see cref="LastTimings"/> is set when the stream ends.
    /// </summary>
    public async IAsyncEnumerable<GeneratedToken> GenerateTokensAsync(IReadOnlyList<int> promptTokens, SamplingSettings? settings = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        settings ??= new SamplingSettings();
        settings.Validate();
        if (_busy) throw new InvalidOperationException("This session is already generating; sessions are not thread-safe.");
        int pending = _tokens.Count - _evaluated;
        if (_tokens.Count + promptTokens.Count > ContextLength)
            throw _model.ContextFull("The prompt", (long)_tokens.Count + promptTokens.Count);
        if (_tokens.Count + promptTokens.Count == 0)
            throw new ArgumentException("Nothing to continue: the session is empty and the prompt has no tokens.", nameof(promptTokens));
        _busy = true;
        try
        {
            var step = new GenerationStep(settings, _model.Tokenizer, ContextLength);
            var speculative = settings.Speculation is { } sp
                ? (_speculative ??= new Speculation.SpeculativeStep(_model.Config.Vocab)).Begin(sp, _model, _transformer.MaxTokens)
                : null;
            var sw = Stopwatch.StartNew();
            int promptCount = pending + promptTokens.Count;
            Append(promptTokens is int[] arr ? arr : promptTokens.ToArray());
            await _offContext; // off the caller's context before the first pass, and before every one after it
            Flush(cancellationToken);
            double promptSeconds = sw.Elapsed.TotalSeconds;
            sw.Restart();

            var reason = FinishReason.None;
            try
            {
                while (reason == FinishReason.None)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    // The last sampled token is evaluated lazily, when more logits are needed.
                    if (_evaluated < _tokens.Count && step.Ended(_tokens.Count) == FinishReason.None)
                    {
                        await _offContext;
                        if (speculative is not null && _tokens.Count - _evaluated == 1
                            && Speculate(speculative, settings.MaxTokens - step.Generated - 1, step) is var rows and > 0)
                        {
                            // The sampler runs on each row in order, as plain decoding would; a row's token that equals
                            // the draft token after it is already in the cache, and the next row gives its logits.
                            for (int row = 0; row < rows; row++)
                            {
                                if (row > 0)
                                {
                                    // As before every token: checked for cancellation, and off the caller's context
                                    // (the consumer resumed this loop on its own thread).
                                    cancellationToken.ThrowIfCancellationRequested();
                                    await _offContext;
                                }
                                // A sampled draft token is kept with probability min(1, p/q), else replaced from
                                // max(0, p − q); after the draft (or for deterministic drafts) the sampler draws from p.
                                (reason, var drafted) = speculative.Sampled && row + 1 < rows
                                    ? step.Next(speculative.Logits(row), _tokens, speculative.DraftToken(row), speculative.DraftDistribution(row))
                                    : step.Next(speculative.Logits(row), _tokens);
                                if (drafted is { } d) yield return d;
                                if (reason != FinishReason.None || !speculative.Accept(row, _tokens[^1])) break;
                                _evaluated++;
                            }
                            continue;
                        }
                        Flush(cancellationToken);
                    }
                    (reason, var token) = step.Next(_transformer.LastLogits, _tokens);
                    if (token is { } t) yield return t;
                }
                string rest = step.Rest(reason);
                if (rest.Length > 0) yield return new GeneratedToken(-1, rest);
            }
            finally
            {
                // Ended by an exception, or by the consumer leaving the loop early.
                if (reason == FinishReason.None) reason = cancellationToken.IsCancellationRequested ? FinishReason.Cancelled : FinishReason.MaxTokens;
                LastTimings = new GenerationTimings
                {
                    PromptTokens = promptCount,
                    PromptSeconds = promptSeconds,
                    GeneratedTokens = step.Generated,
                    DecodeSeconds = sw.Elapsed.TotalSeconds,
                    DraftTokens = speculative?.Drafted ?? 0,
                    AcceptedDraftTokens = speculative?.Accepted ?? 0,
                    FinishReason = reason,
                };
            }
        }
        finally
        {
            _busy = false;
        }
    }

    private void Append(ReadOnlySpan<int> tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(_model.IsDisposed, _model);
        if (_tokens.Count + tokens.Length > ContextLength)
            throw _model.ContextFull($"{_tokens.Count} + {tokens.Length} tokens", (long)_tokens.Count + tokens.Length);
        int vocab = _model.Config.Vocab;
        foreach (int t in tokens)
            if ((uint)t >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {t} is outside the vocabulary (0..{vocab - 1}).");
        _tokens.AddRange(tokens);
    }

    /// <summary>Evaluates every appended token not yet in the cache, in batches.</summary>
    private void Flush(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(_model.IsDisposed, _model);
        var all = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_tokens);
        while (_evaluated < _tokens.Count)
        {
            ct.ThrowIfCancellationRequested();
            int n = Math.Min(_transformer.MaxTokens, _tokens.Count - _evaluated);
            _transformer.Forward(all.Slice(_evaluated, n), _evaluated, _cache);
            _evaluated += n;
            _stored = Math.Max(_stored, _evaluated);
        }
    }

    /// <summary>
    /// One speculative pass: the last token (the only one not evaluated) and up to <paramref name="maxDraft"/> draft
    /// tokens, kept within the context. Returns the rows of logits (0: nothing drafted, nothing evaluated). The last
    /// token is then in the cache; draft tokens are counted in as the caller accepts them.
    /// </summary>
    private int Speculate(Speculation.SpeculativeStep speculative, int maxDraft, GenerationStep step)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(_model.IsDisposed, _model);
        maxDraft = Math.Min(maxDraft, ContextLength - _tokens.Count);
        int rows = speculative.Verify(_transformer, _cache, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_tokens), maxDraft, step.DraftSampler, step.Grammar);
        if (rows == 0) return 0;
        _evaluated++;
        _stored = Math.Max(_stored, _evaluated - 1 + rows);
        return rows;
    }

    /// <summary>The worker pool this session's passes run on (its model's).</summary>
    internal Kernels.WorkerPool Pool => _transformer.Pool;

    /// <summary>An awaitable that moves the caller off its synchronization context (see <see cref="OffContext"/>).</summary>
    internal OffContext LeaveContext() => _offContext;

    /// <summary>
    /// Writes the conversation — its tokens and their keys and values — to <paramref name="stream"/>, after evaluating
    /// any token not yet in the cache, so that <see cref="LoadState"/> on a session of the same model (loaded with the
    /// same KV cache type, context and window) continues exactly where this one is. The size is about
    /// <c>tokens × layers × 2 × KV width</c> elements of the cache's type (for a sliding window, the whole ring).
    /// The format is versioned, carries the model's identity and a checksum (see <see cref="SessionStateException"/>).
    /// </summary>
    public void SaveState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (_busy) throw new InvalidOperationException("This session is generating; save its state between generations.");
        Flush(default);
        SessionStateFormat.Write(stream, _model, _cache, _window, _tokens);
    }

    /// <summary>
    /// Replaces the conversation with one saved by <see cref="SaveState"/>. Throws <see cref="SessionStateException"/>
    /// for a stream that is not a session state, is truncated or corrupted, or was saved from another model or with
    /// other options; the session is then empty. The next generation continues the restored conversation as the saved
    /// session would have (the last token is evaluated again for its logits).
    /// </summary>
    public void LoadState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(_model.IsDisposed, _model);
        if (_busy) throw new InvalidOperationException("This session is generating; load a state between generations.");
        Reset();
        int[] tokens;
        try
        {
            tokens = SessionStateFormat.Read(stream, _model, _cache, _window);
        }
        catch (IOException e)
        {
            throw new SessionStateException("The session state could not be read: " + e.Message, e);
        }
        _tokens.AddRange(tokens);
        // Every position is in the cache; the last one is evaluated again by the next call, for its logits.
        _evaluated = Math.Max(0, tokens.Length - 1);
        _stored = tokens.Length;
    }

    /// <summary>Frees the session's native scratch memory.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _transformer.Dispose();
        _speculative?.Dispose();
    }
}
