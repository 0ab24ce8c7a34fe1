namespace Eurus.Cpu.Sampling;

/// <summary>
/// Speculative decoding (<see cref="SamplingSettings.Speculation"/>): cheap guesses of the next tokens (drafts) are
/// checked by one forward pass over the last token and the draft, which gives the logits after each of them; the
/// generation keeps the draft tokens up to the first one the sampler would not have chosen, plus the sampler's own token
/// there. Drafts come from <em>prompt lookup</em> — the continuation of the latest earlier occurrence of the text's last
/// few tokens (answers that rewrite code or equations repeat their input) — or, with <see cref="DraftModel"/>, from a
/// smaller model's continuation: greedy at temperature 0, sampled with a temperature (within the generation's grammar,
/// when it has one).
/// </summary>
/// <remarks>
/// The output is the one plain decoding gives: the sampler is run on every position's logits in order, as without
/// speculation, and a draft token is kept only when the sampled token equals it. Greedy output is identical token for
/// token (the pass's logits equal one-token passes' bit for bit); with a temperature, prompt lookup's drafts are
/// deterministic (q is one-hot), where standard speculative sampling — keep draft
/// token d with probability p(d), else sample from p without d, renormalized — is the same distribution as drawing from
/// p and comparing with d, which this does, with the same seeded draws: a seeded generation gives the same tokens with
/// or without speculation.
/// <para>
/// With a temperature a <see cref="DraftModel"/> samples its drafts instead: each draft token x is drawn from the draft
/// model's distribution q after the same penalties, top-k, top-p, min-p and temperature as the target's sampler — and,
/// under a <see cref="SamplingSettings.Grammar"/>, among the tokens the grammar allows after the draft so far (a draft
/// holds the end of sequence only where the grammar can end, and ends there) — and the verification is standard speculative sampling (Leviathan et al.; Chen et al.): x is kept with
/// probability min(1, p(x) / q(x)), where p is the target's distribution after the same processing (the same grammar
/// mask: the generation's grammar advances by the kept tokens only); at the first
/// rejection the token is drawn from the normalized residual max(0, p − q) instead; when every draft token is kept, one
/// more token is drawn from p. The output has plain sampling's distribution, and all the draws come from the session's
/// seeded generator, so a seeded generation is reproducible — but its tokens are not those of the same seed without
/// speculation (the draws differ). A model drafting for itself keeps every draft (p = q).
/// </para>
/// </remarks>
public sealed record SpeculativeDecoding
{
    /// <summary>Longest run of recent tokens prompt lookup matches (it tries this length first, then shorter ones); default 3.</summary>
    public int NgramSize { get; init; } = 3;

    /// <summary>Shortest run of recent tokens prompt lookup matches; default 2 (a single-token match drafts too often in ordinary text).</summary>
    public int MinNgramSize { get; init; } = 2;

    /// <summary>Most draft tokens checked in one pass (1 to 32; also at most the model's prompt batch − 1); default 8.</summary>
    public int MaxDraftTokens { get; init; } = 8;

    /// <summary>
    /// A smaller model with the same vocabulary that drafts instead of prompt lookup, in its own KV cache kept by the
    /// session (in a <see cref="Generation.BatchedGenerator"/>, each slot's own, kept with the slot): greedily at
    /// temperature 0; otherwise sampled from its own distribution after the generation's filters (and grammar) and
    /// verified by speculative sampling (see the remarks on <see cref="SpeculativeDecoding"/>).
    /// Null (the default): prompt lookup. It must outlive the sessions and generators that use it.
    /// </summary>
    public Generation.EurusModel? DraftModel { get; init; }

    /// <summary>
    /// Tests only: a positive value makes a draft model's sampled drafts draw from q at this temperature instead of the
    /// generation's (the output keeps plain sampling's distribution: speculative sampling is exact for any q the draft
    /// was drawn from), which gives a draft that partly overlaps the target. 0 (the default): the generation's.
    /// </summary>
    internal float DraftTemperature { get; init; }

    /// <summary>Prompt lookup with the defaults.</summary>
    public static SpeculativeDecoding PromptLookup => new();

    /// <summary>Throws <see cref="ArgumentException"/> for values that make no sense.</summary>
    public void Validate()
    {
        if (MinNgramSize < 1) throw new ArgumentException("MinNgramSize must be ≥ 1.");
        if (NgramSize < MinNgramSize || NgramSize > 16) throw new ArgumentException("NgramSize must be between MinNgramSize and 16.");
        if (MaxDraftTokens < 1 || MaxDraftTokens > 32) throw new ArgumentException("MaxDraftTokens must be between 1 and 32.");
        if (DraftModel is { IsDisposed: true }) throw new ObjectDisposedException(nameof(DraftModel), "The draft model is disposed.");
    }
}
