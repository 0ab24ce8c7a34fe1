namespace Eurus.Cpu.Chat;

/// <summary>Options of a <see cref="ChatSession"/>.</summary>
public sealed record ChatSessionOptions
{
    /// <summary>What to do when a turn does not fit (default: throw).</summary>
    public ContextFullPolicy OnContextFull { get; init; } = ContextFullPolicy.Throw;

    /// <summary>
    /// Optional system prompt. Eurus has no system role, so setting this is an explicit opt-in: it is folded into the
    /// first user message that is still in the context (<c>"{system}\n\n{user}"</c>).
    /// </summary>
    public string? SystemPrompt { get; init; }
}
