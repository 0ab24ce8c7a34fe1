namespace Eurus.Cpu.Generation;

/// <summary>One generated token and the text it completed (empty while a multi-byte character is incomplete).</summary>
/// <param name="Id">Token id.</param>
/// <param name="Text">Text emitted for this token.</param>
public readonly record struct GeneratedToken(int Id, string Text)
{
    /// <summary>
    /// The natural log of the probability the model gave <see cref="Id"/> (the log-softmax of the raw logits, before
    /// penalties, grammar, top-k/top-p/min-p and temperature); null unless <see cref="Sampling.SamplingSettings.Logprobs"/>.
    /// </summary>
    public float? Logprob { get; init; }

    /// <summary>
    /// The <see cref="Sampling.SamplingSettings.TopLogprobs"/> most likely tokens at this position and their log
    /// probabilities (same distribution as <see cref="Logprob"/>), most likely first, equal ones by lower id; null when
    /// not asked for.
    /// </summary>
    public IReadOnlyList<TokenLogprob>? TopLogprobs { get; init; }
}
