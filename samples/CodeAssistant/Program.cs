// Asks Eurus for Python code with the model card's coding template, prints the code block and, opt-in, runs it.
// Usage: dotnet run --project samples/CodeAssistant -- [-m MODEL.gguf] [--allow-code-execution] "task"
using Eurus.Cpu.Generation;
using Eurus.Cpu.Grading;
using Eurus.Cpu.Prompts;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tools;

string model = Path.Combine(AppContext.BaseDirectory, "models", "kjv-tiny-Q8_0.gguf");
bool run = false;
string? task = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "-m" && i + 1 < args.Length) model = args[++i];
    else if (args[i] == "--allow-code-execution") run = true;
    else if (!args[i].StartsWith('-') && task is null) task = args[i];
    else { task = null; break; }
}
if (task is null)
{
    Console.Error.WriteLine("usage: CodeAssistant [-m MODEL.gguf] [--allow-code-execution] \"task\"");
    return 1;
}
if (!File.Exists(model)) { Console.Error.WriteLine($"model file not found: {model}"); return 1; }

using var eurus = EurusModel.Load(model);
using var session = eurus.CreateSession();
var prompt = MistralChatFormat.Encode(eurus.Tokenizer, [ChatTurn.User(EurusPrompts.Coding(task))]);
var text = new System.Text.StringBuilder();
await foreach (var t in session.GenerateTokensAsync(prompt, SamplingSettings.Greedy with { MaxTokens = 1024 }))
{
    Console.Write(t.Text);
    text.Append(t.Text);
}
Console.WriteLine();
Console.Error.WriteLine(session.LastTimings);

string code = CodeAnswer.ExtractCode(text.ToString());
Console.WriteLine("----- code -----");
Console.WriteLine(code.TrimEnd());
if (!run)
{
    Console.WriteLine("----- (pass --allow-code-execution to run it: it runs on this machine, unsandboxed) -----");
    return 0;
}
try
{
    using var python = new PythonInterpreter(new PythonOptions { Timeout = TimeSpan.FromSeconds(10) });
    var result = await python.RunAsync(code);
    Console.WriteLine("----- output -----");
    Console.WriteLine(result.Text.TrimEnd());
    return result.Failed ? 2 : 0;
}
catch (PythonUnavailableException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
