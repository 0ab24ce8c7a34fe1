namespace Eurus.Cpu.Generation;

/// <summary>Counts and timings of one generation call.</summary>
public sealed record GenerationTimings
{
    /// <summary>Prompt tokens evaluated (new tokens only; reused cache entries are not counted).</summary>
    public int PromptTokens { get; init; }
    /// <summary>Prompt tokens whose keys and values were reused from a cache instead of evaluated (a conversation's earlier turns).</summary>
    public int CachedPromptTokens { get; init; }
    /// <summary>Seconds spent evaluating the prompt.</summary>
    public double PromptSeconds { get; init; }
    /// <summary>Tokens generated.</summary>
    public int GeneratedTokens { get; init; }
    /// <summary>Seconds spent generating (sampling and decoding).</summary>
    public double DecodeSeconds { get; init; }
    /// <summary>Draft tokens checked by speculative decoding (<see cref="Sampling.SamplingSettings.Speculation"/>; 0 without it).</summary>
    public int DraftTokens { get; init; }
    /// <summary>Draft tokens kept (each saved one forward pass); <see cref="DraftTokens"/> − this were rejected.</summary>
    public int AcceptedDraftTokens { get; init; }
    /// <summary>Why generation stopped.</summary>
    public FinishReason FinishReason { get; init; }
    /// <summary>Prompt evaluation speed.</summary>
    public double PromptTokensPerSecond => PromptSeconds > 0 ? PromptTokens / PromptSeconds : 0;
    /// <summary>Generation speed.</summary>
    public double DecodeTokensPerSecond => DecodeSeconds > 0 ? GeneratedTokens / DecodeSeconds : 0;

    /// <inheritdoc />
    public override string ToString() =>
        $"prompt {PromptTokens} tokens in {PromptSeconds * 1000:F0} ms ({PromptTokensPerSecond:F1} t/s), " +
        $"generated {GeneratedTokens} tokens in {DecodeSeconds * 1000:F0} ms ({DecodeTokensPerSecond:F1} t/s), {FinishReason}";
}
