// Streaming multi-turn chat: each turn evaluates only its new tokens (the KV cache keeps the earlier ones); when the
// context fills up, the oldest exchanges are dropped. Usage: dotnet run --project samples/Chat -- [-m MODEL.gguf] [--temp 0.7]
using System.Globalization;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

string model = Path.Combine(AppContext.BaseDirectory, "models", "kjv-tiny-Q8_0.gguf");
float temperature = 0.7f;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "-m" && i + 1 < args.Length) model = args[++i];
    else if (args[i] == "--temp" && i + 1 < args.Length) temperature = float.Parse(args[++i], CultureInfo.InvariantCulture);
    else { Console.Error.WriteLine("usage: Chat [-m MODEL.gguf] [--temp T]"); return 1; }
}
if (!File.Exists(model)) { Console.Error.WriteLine($"model file not found: {model}"); return 1; }

using var eurus = EurusModel.Load(model);
using var chat = new ChatSession(eurus, new ChatSessionOptions { OnContextFull = ContextFullPolicy.DropOldestTurns });
var settings = new SamplingSettings { Temperature = temperature, MaxTokens = 512 };
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };  // Ctrl-C stops the current reply

Console.Error.WriteLine($"{Path.GetFileName(model)}: {eurus.ContextLength} positions. Type a message; an empty line quits.");
while (true)
{
    Console.Error.Write("\n> ");
    string? line = Console.ReadLine();
    if (string.IsNullOrWhiteSpace(line)) return 0;
    try
    {
        await foreach (var piece in chat.SendAsync(line, settings, cts.Token)) Console.Write(piece);
    }
    catch (OperationCanceledException) { }
    catch (ContextFullException e) { Console.Error.WriteLine(e.Message); }
    Console.WriteLine();
    if (!cts.TryReset()) cts.Dispose();
    Console.Error.WriteLine($"[{chat.LastTimings}; {chat.Tokens.Count} tokens in context, {chat.DroppedTurns} turns dropped]");
}
