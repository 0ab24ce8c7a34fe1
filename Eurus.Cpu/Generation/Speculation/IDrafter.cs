namespace Eurus.Cpu.Generation.Speculation;

/// <summary>Guesses the tokens that follow a sequence (speculative decoding's draft). Allocates nothing per call.</summary>
internal interface IDrafter
{
    /// <summary>
    /// Writes up to <c>draft.Length</c> guessed tokens that follow <paramref name="history"/> into
    /// <paramref name="draft"/> and returns how many (0: no guess).
    /// </summary>
    int Draft(ReadOnlySpan<int> history, Span<int> draft);
}
