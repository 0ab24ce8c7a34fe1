using System.Text;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Grading;
using Eurus.Cpu.Prompts;

namespace Eurus.Cpu.Tools;

/// <summary>
/// Math-PoT / MINT-style tool use: the model's code (<c>```python</c> blocks, <c>&lt;execute&gt;</c> blocks) is run in a
/// persistent <see cref="PythonInterpreter"/> and the result goes back as the next user turn, until the model gives a
/// final answer (<c>&lt;solution&gt;…&lt;/solution&gt;</c> or <c>\boxed{…}</c>) or the step limit is reached.
/// Running code needs <see cref="ToolLoopOptions.AllowCodeExecution"/> (off by default; unsafe, see
/// <see cref="PythonInterpreter"/>).
/// </summary>
public sealed class PythonToolLoop : IDisposable
{
    private readonly IChatResponder _model;
    private readonly ToolLoopOptions _options;
    private PythonInterpreter? _python;

    /// <summary>A loop over <paramref name="model"/> (a <see cref="ChatSession"/>, or any scripted responder).</summary>
    public PythonToolLoop(IChatResponder model, ToolLoopOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _options = options ?? new ToolLoopOptions();
        _options.Validate();
    }

    /// <summary>
    /// Sends <paramref name="task"/> (e.g. <see cref="EurusPrompts.MathPot"/> of a problem) and runs the loop.
    /// <paramref name="onText"/>, if given, receives the model's text as it streams and each tool result as it is sent.
    /// </summary>
    public async Task<ToolLoopResult> RunAsync(string task, Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        var transcript = new List<ChatTurn>();
        var executions = new List<ExecutionResult>();
        string message = task;
        for (int step = 1; ; step++)
        {
            transcript.Add(ChatTurn.User(message));
            var reply = new StringBuilder();
            await foreach (var piece in _model.SendAsync(message, _options.Sampling, cancellationToken).ConfigureAwait(false))
            {
                reply.Append(piece);
                onText?.Invoke(piece);
            }
            string text = reply.ToString();
            transcript.Add(ChatTurn.Assistant(text));

            string? answer = CodeBlocks.ExtractSolution(text) ?? MathAnswer.ExtractBoxed(text);
            if (answer is not null) return new ToolLoopResult(transcript, answer, ToolLoopStop.Answered, executions);
            var blocks = CodeBlocks.Extract(text);
            if (blocks.Count == 0) return new ToolLoopResult(transcript, null, ToolLoopStop.NoCode, executions);
            if (!_options.AllowCodeExecution) return new ToolLoopResult(transcript, null, ToolLoopStop.ExecutionDisabled, executions);
            if (step >= _options.MaxSteps) return new ToolLoopResult(transcript, null, ToolLoopStop.StepLimit, executions);

            // Every block of the reply runs, in order, in the shared namespace; the model sees all their output.
            _python ??= new PythonInterpreter(_options.Python);
            var output = new StringBuilder();
            foreach (var code in blocks)
            {
                var r = await _python.RunAsync(code, cancellationToken).ConfigureAwait(false);
                executions.Add(r);
                output.Append(r.Text);
                if (r.TimedOut) break; // the state is gone; later blocks would fail confusingly
            }
            string result = output.ToString().TrimEnd('\n');
            message = _options.ResultFormat == ToolResultFormat.Observation
                ? EurusPrompts.Observation(result, _options.MaxSteps - step, _options.SolutionChances, _options.MaxResultChars)
                : EurusPrompts.Out(result, _options.MaxResultChars);
            onText?.Invoke("\n" + message + "\n");
        }
    }

    /// <summary>Stops the Python process (if one was started) and deletes its working directory.</summary>
    public void Dispose() => _python?.Dispose();
}
