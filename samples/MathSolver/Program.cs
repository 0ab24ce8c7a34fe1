// Solves a math problem with Eurus's Math-CoT prompt (or, opt-in, Math-PoT with a Python tool loop), printing the
// reasoning as it streams and the extracted answer.
// Usage: dotnet run --project samples/MathSolver -- [-m MODEL.gguf] [--pot [--allow-code-execution]] "problem"
using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Grading;
using Eurus.Cpu.Prompts;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tools;

string model = Path.Combine(AppContext.BaseDirectory, "models", "kjv-tiny-Q8_0.gguf");
bool pot = false, allowCode = false;
string? problem = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "-m" && i + 1 < args.Length) model = args[++i];
    else if (args[i] == "--pot") pot = true;
    else if (args[i] == "--allow-code-execution") allowCode = true;
    else if (!args[i].StartsWith('-') && problem is null) problem = args[i];
    else { problem = null; break; }
}
if (problem is null)
{
    Console.Error.WriteLine("usage: MathSolver [-m MODEL.gguf] [--pot [--allow-code-execution]] \"problem\"");
    return 1;
}
if (!File.Exists(model)) { Console.Error.WriteLine($"model file not found: {model}"); return 1; }

using var eurus = EurusModel.Load(model);
using var chat = new ChatSession(eurus);
if (!pot)
{
    var settings = SamplingSettings.Greedy with { MaxTokens = EurusPrompts.CotMaxTokens };
    var text = new System.Text.StringBuilder();
    await foreach (var piece in chat.SendAsync(EurusPrompts.MathCot(problem), settings))
    {
        Console.Write(piece);
        text.Append(piece);
    }
    Console.WriteLine();
    Console.WriteLine($"answer: {MathAnswer.Extract(text.ToString()) ?? "(none found)"}");
    Console.Error.WriteLine(chat.LastTimings);
    return 0;
}

// Math-PoT: the model's Python runs in a local interpreter only with --allow-code-execution (unsafe: not a sandbox).
using var loop = new PythonToolLoop(chat, new ToolLoopOptions { AllowCodeExecution = allowCode });
try
{
    var result = await loop.RunAsync(EurusPrompts.MathPot(problem), Console.Write);
    Console.WriteLine();
    Console.WriteLine(result.Stop switch
    {
        ToolLoopStop.Answered => $"answer: {result.Answer}",
        ToolLoopStop.ExecutionDisabled => "The model wrote code; pass --allow-code-execution to run it (it runs on this machine, unsandboxed).",
        _ => $"stopped ({result.Stop}); last output: {result.LastOutput ?? "(none)"}",
    });
    return 0;
}
catch (PythonUnavailableException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
