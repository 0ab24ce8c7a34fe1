using Eurus.Cpu.Prompts;

namespace Eurus.Cpu.Tools;

/// <summary>Why a <see cref="PythonToolLoop"/> run ended.</summary>
public enum ToolLoopStop
{
    /// <summary>The model gave a final answer (<c>&lt;solution&gt;</c> or <c>\boxed{}</c>).</summary>
    Answered,
    /// <summary>A reply had neither code nor a final answer.</summary>
    NoCode,
    /// <summary><see cref="ToolLoopOptions.MaxSteps"/> replies without a final answer.</summary>
    StepLimit,
    /// <summary>The model wrote code but <see cref="ToolLoopOptions.AllowCodeExecution"/> is off.</summary>
    ExecutionDisabled,
}

/// <summary>The outcome of a tool-use conversation.</summary>
/// <param name="Transcript">Every message, user and assistant, in order (tool results are user messages).</param>
/// <param name="Answer">The final answer (<c>&lt;solution&gt;</c> content, else <c>\boxed{}</c> content), or null.</param>
/// <param name="Stop">Why the loop ended.</param>
/// <param name="Executions">Every code execution, in order.</param>
public sealed record ToolLoopResult(IReadOnlyList<ChatTurn> Transcript, string? Answer, ToolLoopStop Stop, IReadOnlyList<ExecutionResult> Executions)
{
    /// <summary>The output of the last execution (the PoT answer when the model never states one), or null.</summary>
    public string? LastOutput => Executions.Count == 0 ? null : Executions[^1].Output;
}
