using System.Numerics.Tensors;

namespace Eurus.Cpu.Generation.Speculation;

/// <summary>
/// Drafts with a smaller model of the same vocabulary (<see cref="Draft"/>): its greedy continuation, or one sampled from
/// its distribution after the generation's own sampling filters, from its own session, which keeps its KV cache between
/// drafts — each draft evaluates only the tokens it has not seen (it rewinds to the common prefix).
/// </summary>
internal sealed class DraftModelDrafter : IDisposable
{
    private readonly InferenceSession _session;
    private readonly int[] _one = new int[1];
    private int[] _history = []; // the penalties' window of the history, then the draft so far

    public DraftModelDrafter(EurusModel draft, EurusModel target)
    {
        CheckVocabulary(draft, target);
        Model = draft;
        _session = draft.CreateSession();
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="draft"/> has <paramref name="target"/>'s vocabulary size.</summary>
    public static void CheckVocabulary(EurusModel draft, EurusModel target, string? paramName = null)
    {
        if (draft.Config.Vocab != target.Config.Vocab)
            throw new ArgumentException($"The draft model's vocabulary ({draft.Config.Vocab} tokens) differs from the model's ({target.Config.Vocab}).", paramName);
    }

    public EurusModel Model { get; }

    /// <summary>
    /// Drafts up to <c>draft.Length</c> tokens after <paramref name="history"/> and returns how many. Without a
    /// <paramref name="sampler"/> (greedy decoding) each token is the draft model's best — among the tokens
    /// <paramref name="grammar"/> allows after the draft so far, when there is a grammar, so a model drafting for itself
    /// is always right. With one, each token is sampled by it (its filters and temperature, or
    /// <paramref name="temperature"/> when positive, and its seeded generator) from the draft model's logits — under a
    /// grammar, among the tokens it allows — and each one's distribution q is written to <paramref name="q"/>
    /// (vocabulary-sized rows, one per draft token) for <see cref="Sampling.Sampler.SampleVerified"/>. The grammar's
    /// state is walked through the draft and restored (the generation's place does not move); a draft ends at the end of
    /// sequence (under a grammar, only where the grammar can end).
    /// </summary>
    public int Draft(ReadOnlySpan<int> history, Span<int> draft, Sampling.Sampler? sampler, Span<float> q,
        Grammars.GrammarConstraint? grammar, float temperature)
    {
        int state = grammar?.State ?? 0;
        try
        {
            return DraftCore(history, draft, q, sampler, grammar, temperature);
        }
        finally
        {
            if (grammar is not null) grammar.State = state;
        }
    }

    private int DraftCore(ReadOnlySpan<int> history, Span<int> draft, Span<float> q, Sampling.Sampler? sampler,
        Grammars.GrammarConstraint? grammar, float temperature)
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
            draft[i] = sampler is not null
                ? sampler.SampleDraft(logits, _history.AsSpan(0, w + i), q.Slice(i * vocab, vocab), grammar?.Allowed(), temperature)
                : grammar is null ? TensorPrimitives.IndexOfMax(logits) : BestAllowed(logits, grammar);
            if (sampler is not null) _history[w + i] = draft[i];
            if (grammar is not null)
            {
                // Nothing follows the end of sequence (the target ends there if it keeps it).
                if (draft[i] == grammar.Eos) return i + 1;
                grammar.Accept(draft[i]);
            }
            if (i + 1 < k)
            {
                _one[0] = draft[i];
                logits = _session.Evaluate(_one);
            }
        }
        return k;
    }

    /// <summary>The token with the largest logit among those <paramref name="grammar"/> allows (the first on ties, as greedy sampling picks).</summary>
    private static int BestAllowed(ReadOnlySpan<float> logits, Grammars.GrammarConstraint grammar)
    {
        int best = TensorPrimitives.IndexOfMax(logits);
        if (grammar.Allows(best)) return best;
        var mask = grammar.Allowed();
        best = -1;
        for (int i = 0; i < logits.Length; i++)
            if (mask.Allows(i) && (best < 0 || logits[i] > logits[best])) best = i;
        return best;
    }

    public void Dispose() => _session.Dispose();
}
