namespace Eurus.Cpu.Prompts;

/// <summary>
/// The user-message texts of the Eurus-7B-KTO model card (Coding, Math-CoT, Math-PoT) and of the paper's evaluation,
/// character for character. Each builder returns the content of a user message; wrap it with
/// <see cref="MistralChatFormat"/> (which adds <c>[INST] </c> and <c> [/INST]</c>) — <see cref="Prompt"/> does both.
/// </summary>
public static class EurusPrompts
{
    /// <summary>Model card, Coding: <c>"Write Python code to solve the task:\n{instruction}"</c>.</summary>
    public static string Coding(string instruction) => "Write Python code to solve the task:\n" + Check(instruction);

    /// <summary>Model card, Math-CoT (asks for the answer in <c>\boxed{}</c>; one backslash, as the model saw it).</summary>
    public static string MathCot(string instruction) =>
        "Solve the following math problem step-by-step.\n" +
        "Simplify your answer as much as possible. Present your final answer as \\boxed{Your Answer}.\n" + Check(instruction);

    /// <summary>Model card, Math-PoT (tool use with a stateful Python notebook).</summary>
    public static string MathPot(string instruction) => PotHeader(evaluation: false) + PotBody + Check(instruction);

    /// <summary>
    /// The paper's Math-PoT evaluation prompt: the card's PoT text with <c>" Present code in ```python```"</c> after
    /// "…Jupyter notebook environment." (same line, as the authors' evaluation script has it).
    /// </summary>
    public static string MathPotEvaluation(string instruction) => PotHeader(evaluation: true) + PotBody + Check(instruction);

    /// <summary>The full prompt text of one user turn, e.g. <c>Prompt(MathCot(q))</c> = <c>"[INST] Solve … {q} [/INST]"</c>.</summary>
    public static string Prompt(string userContent) => MistralChatFormat.UserTurn(userContent);

    /// <summary>
    /// MINT's tool-result turn: <c>"Observation:\n{output}\nYou have {n} steps left and {m} chances to propose solution left."</c>,
    /// the output cut to <paramref name="maxChars"/> characters, empty output as
    /// <c>"[Executed Successfully with No Output]"</c>.
    /// </summary>
    public static string Observation(string output, int stepsLeft, int chancesLeft, int maxChars = 2000)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfNegative(maxChars);
        string shown = output.Length == 0 ? NoOutput : output.Length > maxChars ? output[..maxChars] : output;
        return $"Observation:\n{shown}\nYou have {stepsLeft} steps left and {chancesLeft} chances to propose solution left.";
    }

    /// <summary>The training data's (UltraInteract) tool-result turn: <c>"Out: {output}"</c>.</summary>
    public static string Out(string output, int maxChars = 2000)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfNegative(maxChars);
        string shown = output.Length == 0 ? NoOutput : output.Length > maxChars ? output[..maxChars] : output;
        return "Out: " + shown;
    }

    /// <summary>What MINT reports for code that printed nothing.</summary>
    public const string NoOutput = "[Executed Successfully with No Output]";

    /// <summary>MINT's stop strings for multi-turn tool use.</summary>
    public static IReadOnlyList<string> ToolStopStrings { get; } = ["\nObservation:", "\nExpert feedback:", "\nTask:", "\n---", "\nHuman:"];

    /// <summary>The paper's token budgets: CoT 1024 new tokens, PoT 2048.</summary>
    public const int CotMaxTokens = 1024, PotMaxTokens = 2048;

    private static string PotHeader(bool evaluation) =>
        "Tool available:\n[1] Python interpreter\n" +
        "When you send a message containing Python code to python, it will be executed in a stateful Jupyter notebook environment." +
        (evaluation ? " Present code in ```python```" : "") + "\n";

    private const string PotBody = "Solve the following math problem step-by-step.\nSimplify your answer as much as possible.\n";

    private static string Check(string instruction)
    {
        ArgumentNullException.ThrowIfNull(instruction);
        return instruction;
    }
}
