using Eurus.Cpu.Tools;

namespace Eurus.Cpu.Grading;

/// <summary>
/// The paper's single-pass Math-PoT answer: every <c>```python</c> (and <c>&lt;execute&gt;</c>) block of the completion
/// runs in order in one interpreter, a bare-expression last line printed (<see cref="CodeBlocks.PrintLastLine"/>); the
/// last line the last block printed is the answer. A completion without code falls back to
/// <see cref="MathAnswer.Extract"/>. Runs model-written code: see <see cref="PythonInterpreter"/> on safety.
/// </summary>
public static class PotAnswer
{
    /// <summary>Runs the completion's code and returns the answer (null if the last block failed or printed nothing) and every run.</summary>
    public static async Task<(string? Answer, IReadOnlyList<ExecutionResult> Runs)> RunAsync(string completion, PythonOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var runs = new List<ExecutionResult>();
        var blocks = CodeBlocks.Extract(completion);
        if (blocks.Count == 0) return (MathAnswer.Extract(completion), runs);
        using var python = new PythonInterpreter(options);
        foreach (var code in blocks)
        {
            var r = await python.RunAsync(CodeBlocks.PrintLastLine(code), cancellationToken).ConfigureAwait(false);
            runs.Add(r);
            if (r.TimedOut) break;
        }
        var last = runs[^1];
        if (last.Failed || last.TimedOut) return (null, runs);
        string? answer = last.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        return (answer, runs);
    }
}
