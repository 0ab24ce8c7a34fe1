using Eurus.Cpu.Tools;

namespace Eurus.Cpu.Grading;

/// <summary>
/// Coding answers as the Eurus paper grades them (HumanEval/MBPP): the completion is cut at the first closing
/// <c>```</c>, then the program runs in a fresh Python process and the task's tests after it, with a time limit.
/// Running the tests runs model-written code: see <see cref="PythonInterpreter"/> on safety.
/// </summary>
public static class CodeAnswer
{
    /// <summary>
    /// The program in <paramref name="completion"/>: the body of the first <c>```python</c> (or plain <c>```</c>)
    /// block; if the completion has no opening fence (the prompt opened it), everything before the first <c>```</c>.
    /// </summary>
    public static string ExtractCode(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        int open = completion.IndexOf("```", StringComparison.Ordinal);
        if (open < 0) return completion;
        int lineEnd = completion.IndexOf('\n', open);
        string fenceInfo = lineEnd < 0 ? completion[(open + 3)..] : completion[(open + 3)..lineEnd];
        string language = fenceInfo.Trim();
        bool atStart = completion[..open].Trim().Length == 0;
        // A fence naming a language, or any fence before which there is no code, opens a block; else it closes the code.
        bool opens = language.Length > 0 ? language.StartsWith("py", StringComparison.OrdinalIgnoreCase) || atStart : atStart;
        if (opens && lineEnd >= 0)
        {
            int close = completion.IndexOf("```", lineEnd, StringComparison.Ordinal);
            return close < 0 ? completion[(lineEnd + 1)..] : completion[(lineEnd + 1)..close];
        }
        return completion[..open];
    }

    /// <summary>
    /// Runs <paramref name="code"/> (the solution) in a fresh interpreter, then <paramref name="tests"/> (e.g.
    /// <c>assert</c> lines) as a second cell in the same namespace; passed when both ran to their end without an exception
    /// within the time limit (each cell has its own). Throws <see cref="PythonUnavailableException"/> without Python.
    /// </summary>
    /// <param name="code">The program under test.</param>
    /// <param name="tests">Test code, run after the program has finished.</param>
    /// <param name="options">How Python runs (time limit per cell, limits, launcher).</param>
    /// <param name="allowSystemExit">
    /// Whether the program may end with <c>SystemExit</c> status 0 (<c>sys.exit()</c>, <c>exit()</c>,
    /// <c>sys.exit(main())</c> with <c>main</c> returning 0 or None), for tasks whose programs are expected to exit; the
    /// tests still run afterwards, in its namespace. By default (false) any <c>SystemExit</c> of the program fails it, and
    /// a non-zero status always does. An exit while the tests run (a tested function calling <c>sys.exit</c> or
    /// <c>os._exit</c>) always fails.
    /// </param>
    /// <param name="cancellationToken">Stops the run (the interpreter is killed).</param>
    /// <remarks>
    /// <para>The tests cell carries a sentinel chosen at random for this run (the program has finished before it is
    /// sent, so the program cannot know it); the interpreter echoes it only when that cell ran to its end, and only then
    /// can the result be a pass. So a program cannot pass by exiting (in any way, before or during the tests), by printing
    /// something that looks like a success message or sentinel, or by rebinding names the tests or the interpreter rely on
    /// (<c>print</c>, <c>sys.stdout</c>, <c>builtins.exec</c>/<c>compile</c>, <c>AssertionError</c> — <c>assert</c> does
    /// not look it up; tracing hooks are cleared before each cell).</para>
    /// <para>Not guaranteed: the tests run in the program's process, so a program written to cheat the grader can still
    /// do it — return objects whose <c>==</c> is always true, reach into the interpreter's frames or objects (the sentinel
    /// and the reply nonce are in its memory while the tests run) and write a forged reply, or install a tracing hook from
    /// inside a tested function. Such code is visible in the program; grade untrusted programs inside a
    /// <see cref="PythonOptions.Launcher"/> and read what they do.</para>
    /// </remarks>
    public static async Task<CodeTestResult> RunTestsAsync(string code, string tests, PythonOptions? options = null, bool allowSystemExit = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(code);
        ArgumentNullException.ThrowIfNull(tests);
        using var python = new PythonInterpreter(options);
        var program = await python.RunCellAsync(code, null, cancellationToken).ConfigureAwait(false);
        var p = program.Result;
        if (p.Failed || p.TimedOut) return new CodeTestResult(false, p);
        if (program.ExitCode is int status && !(allowSystemExit && status == 0))
        {
            string why = status != 0
                ? $"SystemExit: the program exited with status {status}; the tests did not run."
                : "SystemExit: the program exited before the tests ran (set allowSystemExit where the task expects it to exit).";
            return new CodeTestResult(false, p with { Output = Join(p.Output, why), Failed = true });
        }

        string sentinel = PythonInterpreter.NewToken();
        var run = await python.RunCellAsync(tests, sentinel, cancellationToken).ConfigureAwait(false);
        var t = run.Result;
        bool passed = !t.Failed && !t.TimedOut && run.Completed;
        string output = p.Output + t.Output;
        if (!passed && !t.Failed && !t.TimedOut)
            output = Join(output, run.ExitCode is int s
                ? $"SystemExit: the program exited (status {s}) while the tests ran; they did not run to their end."
                : "The tests did not report that they ran to their end.");
        return new CodeTestResult(passed, new ExecutionResult(output, Failed: !passed, t.TimedOut, p.Truncated || t.Truncated, p.Elapsed + t.Elapsed));
    }

    private static string Join(string output, string line) => output.Length == 0 || output.EndsWith('\n') ? output + line : output + "\n" + line;
}

/// <summary>The outcome of <see cref="CodeAnswer.RunTestsAsync"/>.</summary>
/// <param name="Passed">The program and every test ran to their end, without an exception, within the time limit.</param>
/// <param name="Execution">
/// The run: the program's output followed by the tests' (with the traceback of the failing test, or why an exit failed
/// the run), Failed exactly when not passed, the timeout, the time of both cells.
/// </param>
public sealed record CodeTestResult(bool Passed, ExecutionResult Execution);
