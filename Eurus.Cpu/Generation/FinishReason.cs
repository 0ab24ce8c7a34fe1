namespace Eurus.Cpu.Generation;

/// <summary>Why a generation ended.</summary>
public enum FinishReason
{
    /// <summary>Still running (or not started).</summary>
    None,
    /// <summary>The model produced its end-of-sequence token.</summary>
    EndOfSequence,
    /// <summary>The token limit was reached.</summary>
    MaxTokens,
    /// <summary>A stop string was produced.</summary>
    StopString,
    /// <summary>The context is full.</summary>
    ContextFull,
    /// <summary>The caller cancelled.</summary>
    Cancelled,
}
