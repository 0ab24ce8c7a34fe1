namespace Eurus.Cpu.Sampling;

/// <summary>
/// How the next token is chosen. Defaults follow llama.cpp's (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05,
/// no repetition penalty). A temperature of 0 is greedy decoding. Filters apply in llama.cpp's order: penalties,
/// top-k, top-p, min-p, then temperature and a seeded random draw.
/// </summary>
public sealed record SamplingSettings
{
    /// <summary>Softmax temperature; 0 (or less) picks the most likely token.</summary>
    public float Temperature { get; init; } = 0.8f;
    /// <summary>Keep only the k most likely tokens; 0 disables.</summary>
    public int TopK { get; init; } = 40;
    /// <summary>Keep the smallest set of tokens whose probabilities sum to at least p; 1 disables.</summary>
    public float TopP { get; init; } = 0.95f;
    /// <summary>Drop tokens less likely than min-p × the most likely one; 0 disables.</summary>
    public float MinP { get; init; } = 0.05f;
    /// <summary>Repetition penalty for tokens in the last <see cref="PenaltyWindow"/> tokens; 1 disables.</summary>
    public float RepeatPenalty { get; init; } = 1.0f;
    /// <summary>Subtracted once per occurrence of a token in the window; 0 disables.</summary>
    public float FrequencyPenalty { get; init; }
    /// <summary>Subtracted once if a token occurs in the window; 0 disables.</summary>
    public float PresencePenalty { get; init; }
    /// <summary>How many recent tokens the penalties look at.</summary>
    public int PenaltyWindow { get; init; } = 64;
    /// <summary>Random seed; equal seeds give equal samples. Null picks one at random.</summary>
    public ulong? Seed { get; init; }
    /// <summary>Most tokens to generate.</summary>
    public int MaxTokens { get; init; } = 128;
    /// <summary>Generation stops when the text contains one of these (the stop string itself is not returned).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Stop at the end-of-sequence token (default true).</summary>
    public bool StopAtEos { get; init; } = true;
    /// <summary>
    /// Constrains the generated text to the grammar (GBNF or JSON Schema, see <see cref="Grammars.Grammar"/>): only
    /// tokens that keep the text a prefix of a sentence are sampled (top-k, top-p and min-p apply among them), and the
    /// end of sequence only where the text is a whole sentence, which then ends the generation even without
    /// <see cref="StopAtEos"/>. Null (the default) leaves sampling unconstrained.
    /// </summary>
    public Grammars.Grammar? Grammar { get; init; }
    /// <summary>
    /// Report each generated token's log probability (<see cref="Generation.GeneratedToken.Logprob"/>): the log-softmax
    /// of the model's raw logits at that position, before penalties, grammar, filters and temperature (as OpenAI and
    /// llama-server report it). Off by default (it costs one pass over the vocabulary per token).
    /// </summary>
    public bool Logprobs { get; init; }
    /// <summary>
    /// Also report this many most likely tokens at each position (<see cref="Generation.GeneratedToken.TopLogprobs"/>),
    /// 0 to 20; more than 0 implies <see cref="Logprobs"/>.
    /// </summary>
    public int TopLogprobs { get; init; }
    /// <summary>
    /// Speculative decoding (prompt lookup or a draft model, see <see cref="SpeculativeDecoding"/>): the same tokens
    /// (with a temperature and a draft model, whose drafts are then sampled: the same distribution, other draws),
    /// several per pass where the drafts are right. Null (the default) decodes one token per pass.
    /// </summary>
    public SpeculativeDecoding? Speculation { get; init; }

    /// <summary>Greedy decoding (temperature 0).</summary>
    public static SamplingSettings Greedy => new() { Temperature = 0 };

    /// <summary>Throws <see cref="ArgumentException"/> for values that make no sense.</summary>
    public void Validate()
    {
        if (!float.IsFinite(Temperature)) throw new ArgumentException("Temperature must be finite.");
        if (TopK < 0) throw new ArgumentException("TopK must be ≥ 0.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException("TopP must be in (0, 1].");
        if (!(MinP >= 0 && MinP <= 1)) throw new ArgumentException("MinP must be in [0, 1].");
        if (!(RepeatPenalty > 0) || !float.IsFinite(RepeatPenalty)) throw new ArgumentException("RepeatPenalty must be positive.");
        if (!float.IsFinite(FrequencyPenalty) || !float.IsFinite(PresencePenalty)) throw new ArgumentException("Penalties must be finite.");
        if (PenaltyWindow < 0) throw new ArgumentException("PenaltyWindow must be ≥ 0.");
        if (TopLogprobs < 0 || TopLogprobs > Sampling.Logprobs.MaxTop) throw new ArgumentException($"TopLogprobs must be 0 to {Sampling.Logprobs.MaxTop}.");
        if (MaxTokens < 0) throw new ArgumentException("MaxTokens must be ≥ 0.");
        if (StopStrings is null || StopStrings.Any(string.IsNullOrEmpty)) throw new ArgumentException("Stop strings must be non-empty.");
        Speculation?.Validate();
    }
}
