namespace Eurus.Cpu.Chat;

/// <summary>What a <see cref="ChatSession"/> does when a new turn does not fit in the context.</summary>
public enum ContextFullPolicy
{
    /// <summary>
    /// Throw <see cref="Generation.ContextFullException"/> when the new message does not fit, leaving the conversation
    /// unchanged. A reply that reaches the end of the context stops with <see cref="Generation.FinishReason.ContextFull"/>.
    /// </summary>
    Throw,
    /// <summary>
    /// Forget the oldest exchanges until the new turn and its reply budget fit, then re-evaluate the remaining
    /// conversation from scratch (the KV cache cannot drop a prefix in place: every position would shift).
    /// </summary>
    DropOldestTurns,
}
