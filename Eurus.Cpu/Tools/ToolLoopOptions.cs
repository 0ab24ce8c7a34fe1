using Eurus.Cpu.Prompts;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Tools;

/// <summary>How tool results are sent back to the model.</summary>
public enum ToolResultFormat
{
    /// <summary>MINT's multi-turn format: <c>Observation:\n…\nYou have n steps left and m chances to propose solution left.</c></summary>
    Observation,
    /// <summary>The training data's (UltraInteract) format: <c>Out: …</c>.</summary>
    Out,
}

/// <summary>Options of <see cref="PythonToolLoop"/>.</summary>
public sealed record ToolLoopOptions
{
    /// <summary>
    /// Opt-in to running model-written code (default false: the loop stops at the first code block, reporting
    /// <see cref="ToolLoopStop.ExecutionDisabled"/>). <b>Unsafe:</b> the code runs with your user's rights.
    /// </summary>
    public bool AllowCodeExecution { get; init; }

    /// <summary>Most model replies (MINT: 5).</summary>
    public int MaxSteps { get; init; } = 5;

    /// <summary>The "chances to propose solution" figure of the Observation text (MINT: 2).</summary>
    public int SolutionChances { get; init; } = 2;

    /// <summary>How results are sent back (default <see cref="ToolResultFormat.Observation"/>).</summary>
    public ToolResultFormat ResultFormat { get; init; } = ToolResultFormat.Observation;

    /// <summary>Characters of output shown to the model per execution (MINT: 2000).</summary>
    public int MaxResultChars { get; init; } = 2000;

    /// <summary>Sampling per reply: greedy, 2048 tokens, MINT's stop strings by default.</summary>
    public SamplingSettings Sampling { get; init; } = SamplingSettings.Greedy with { MaxTokens = EurusPrompts.PotMaxTokens, StopStrings = EurusPrompts.ToolStopStrings };

    /// <summary>How Python runs (path, time limit, output cap, resource limits, launcher).</summary>
    public PythonOptions Python { get; init; } = new();

    internal void Validate()
    {
        if (MaxSteps < 1) throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "MaxSteps must be at least 1.");
        if (SolutionChances < 0) throw new ArgumentOutOfRangeException(nameof(SolutionChances), SolutionChances, "SolutionChances must be ≥ 0.");
        if (MaxResultChars < 1) throw new ArgumentOutOfRangeException(nameof(MaxResultChars), MaxResultChars, "MaxResultChars must be positive.");
        ArgumentNullException.ThrowIfNull(Sampling);
        ArgumentNullException.ThrowIfNull(Python);
        Sampling.Validate();
        Python.Validate();
    }
}
