using Eurus.Cpu.Tools;

namespace Eurus.Cpu.Grading;

/// <summary>
/// Coding answers as the Eurus paper grades them (HumanEval/MBPP): the completion is cut at the first closing
/// <c>```</c>, then the task's tests run against it in a fresh Python process with a time limit.
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
    /// Runs <paramref name="code"/> followed by <paramref name="tests"/> (e.g. <c>assert</c> lines) in a fresh interpreter;
    /// passed when nothing raised within the time limit. Throws <see cref="PythonUnavailableException"/> without Python.
    /// </summary>
    public static async Task<CodeTestResult> RunTestsAsync(string code, string tests, PythonOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(code);
        ArgumentNullException.ThrowIfNull(tests);
        using var python = new PythonInterpreter(options);
        // One cell, so a syntax error anywhere fails the whole program, as running a file would.
        var r = await python.RunAsync(code + "\n\n" + tests + "\n", cancellationToken).ConfigureAwait(false);
        return new CodeTestResult(!r.Failed && !r.TimedOut, r);
    }
}

/// <summary>The outcome of <see cref="CodeAnswer.RunTestsAsync"/>.</summary>
/// <param name="Passed">Every test passed within the time limit.</param>
/// <param name="Execution">The run itself (output, traceback of the failing test, timeout).</param>
public sealed record CodeTestResult(bool Passed, ExecutionResult Execution);
