namespace Eurus.Cpu.Prompts;

/// <summary>Who wrote a chat message.</summary>
public enum TurnRole
{
    /// <summary>The person (or program) asking; rendered inside <c>[INST] … [/INST]</c>.</summary>
    User,
    /// <summary>The model's reply; followed by the EOS token.</summary>
    Assistant,
    /// <summary>
    /// A system prompt. Mistral-Instruct v0.1 (and so Eurus-7B-KTO) has no system role: the formatter rejects it
    /// unless <see cref="MistralChatOptions.FoldSystemIntoFirstUser"/> is set.
    /// </summary>
    System,
}
