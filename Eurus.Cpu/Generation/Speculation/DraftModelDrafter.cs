using System.Numerics.Tensors;

namespace Eurus.Cpu.Generation.Speculation;

/// <summary>
/// Drafts with a smaller model of the same vocabulary: its greedy continuation (<see cref="Draft"/>), or one sampled
/// from its distribution after the generation's own sampling filters (<see cref="DraftSampled"/>), from its own
/// session, which keeps its KV cache between drafts — each draft evaluates only the tokens it has not seen (it rewinds
/// to the common prefix).
/// </summary>
internal sealed class DraftModelDrafter : IDrafter, IDisposable
{
    private readonly InferenceSession _session;
    private readonly int[] _one = new int[1];
    private int[] _history = []; // the penalties' window of the history, then the draft so far

    public DraftModelDrafter(EurusModel draft, EurusModel target)
    {
        if (draft.Config.Vocab != target.Config.Vocab)
            throw new ArgumentException($"The draft model's vocabulary ({draft.Config.Vocab} tokens) differs from the model's ({target.Config.Vocab}).");
        Model = draft;
        _session = draft.CreateSession();
    }

    public EurusModel Model { get; }

    public int Draft(ReadOnlySpan<int> history, Span<int> draft) => DraftCore(history, draft, default, null);

    /// <summary>
    /// Drafts up to <c>draft.Length</c> tokens, each sampled by <paramref name="sampler"/> (its filters and temperature,
    /// and its seeded generator) from the draft model's logits, and writes each one's distribution q to
    /// <paramref name="q"/> (vocabulary-sized rows, one per draft token) for <see cref="Sampling.Sampler.SampleVerified"/>.
    /// </summary>
    public int DraftSampled(ReadOnlySpan<int> history, Span<int> draft, Span<float> q, Sampling.Sampler sampler) =>
        DraftCore(history, draft, q, sampler);

    private int DraftCore(ReadOnlySpan<int> history, Span<int> draft, Span<float> q, Sampling.Sampler? sampler)
    {
        int k = Math.Min(draft.Length, _session.ContextLength - history.Length);
        if (k <= 0 || history.IsEmpty) return 0;
        // Rewind to the common prefix, keeping at least the last token to evaluate (its logits start the draft).
        var seen = _session.Tokens;
        int common = 0, limit = Math.Min(seen.Count, history.Length - 1);
        while (common < limit && seen[common] == history[common]) common++;
        _session.Rewind(common);
        var logits = _session.Evaluate(history[common..]);
        int w = 0, vocab = logits.Length;
        if (sampler is not null)
        {
            // The penalties see the history and the draft so far, as the target's sampler will at each position.
            w = Math.Min(history.Length, sampler.PenaltyHistory);
            if (_history.Length < w + k) _history = new int[Math.Max(w + k, 2 * _history.Length)];
            history[^w..].CopyTo(_history);
        }
        for (int i = 0; i < k; i++)
        {
            draft[i] = sampler is null
                ? TensorPrimitives.IndexOfMax(logits)
                : sampler.SampleDraft(logits, _history.AsSpan(0, w + i), q.Slice(i * vocab, vocab));
            if (sampler is not null) _history[w + i] = draft[i];
            if (i + 1 < k)
            {
                _one[0] = draft[i];
                logits = _session.Evaluate(_one);
            }
        }
        return k;
    }

    public void Dispose() => _session.Dispose();
}
