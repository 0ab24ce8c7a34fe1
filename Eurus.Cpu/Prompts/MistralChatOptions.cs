namespace Eurus.Cpu.Prompts;

/// <summary>Options of <see cref="MistralChatFormat"/>.</summary>
public sealed record MistralChatOptions
{
    /// <summary>
    /// Opt-in: a leading system message is put before the first user message, separated by a blank line
    /// (<c>"{system}\n\n{user}"</c>), instead of being rejected. Eurus was not trained with system prompts.
    /// </summary>
    public bool FoldSystemIntoFirstUser { get; init; }
}
