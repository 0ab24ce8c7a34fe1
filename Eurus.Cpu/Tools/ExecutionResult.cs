namespace Eurus.Cpu.Tools;

/// <summary>What running one code cell gave.</summary>
/// <param name="Output">Everything the cell printed (stdout and stderr interleaved, with the traceback of an error), capped.</param>
/// <param name="Failed">The cell raised an exception (including a syntax error).</param>
/// <param name="TimedOut">The cell ran past the time limit; the interpreter was killed and its state is lost.</param>
/// <param name="Truncated">The output was longer than the cap and was cut.</param>
/// <param name="Elapsed">Wall-clock time of the cell.</param>
public sealed record ExecutionResult(string Output, bool Failed, bool TimedOut, bool Truncated, TimeSpan Elapsed)
{
    /// <summary>
    /// The text to show the model: the output, plus a note when it was cut or when the cell timed out.
    /// </summary>
    public string Text => TimedOut
        ? (Output.Length > 0 ? Output + "\n" : "") + $"TimeoutError: the code ran longer than {Elapsed.TotalSeconds:0.#} s and was stopped; the interpreter was restarted and its variables are gone."
        : Truncated ? Output + "\n[output truncated]" : Output;
}
