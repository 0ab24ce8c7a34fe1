namespace Eurus.Cpu.Prompts;

/// <summary>One message of a conversation.</summary>
/// <param name="Role">Who wrote it.</param>
/// <param name="Content">Its text, exactly as it goes into the prompt (not trimmed).</param>
public sealed record ChatMessage(ChatRole Role, string Content)
{
    /// <summary>A user message.</summary>
    public static ChatMessage User(string content) => new(ChatRole.User, content);

    /// <summary>An assistant (model) message.</summary>
    public static ChatMessage Assistant(string content) => new(ChatRole.Assistant, content);

    /// <summary>A system message (see <see cref="ChatRole.System"/>).</summary>
    public static ChatMessage System(string content) => new(ChatRole.System, content);
}
