namespace Eurus.Cpu.Prompts;

/// <summary>One message of a conversation.</summary>
/// <param name="Role">Who wrote it.</param>
/// <param name="Content">Its text, exactly as it goes into the prompt (not trimmed).</param>
public sealed record ChatTurn(TurnRole Role, string Content)
{
    /// <summary>A user message.</summary>
    public static ChatTurn User(string content) => new(TurnRole.User, content);

    /// <summary>An assistant (model) message.</summary>
    public static ChatTurn Assistant(string content) => new(TurnRole.Assistant, content);

    /// <summary>A system message (see <see cref="TurnRole.System"/>).</summary>
    public static ChatTurn System(string content) => new(TurnRole.System, content);
}
