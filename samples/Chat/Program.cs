// Streaming multi-turn chat: each turn evaluates only its new tokens (the KV cache keeps the earlier ones); when the
// context fills up, the oldest exchanges are dropped. Ctrl-C stops the current reply (at the prompt it quits).
// Usage: dotnet run -c Release --project samples/Chat -- [-m MODEL.gguf] [--temp 0.7] [-n MAX_TOKENS]
using System.Globalization;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;

string model = Path.Combine(AppContext.BaseDirectory, "models", "kjv-tiny-Q8_0.gguf");
float temperature = 0.7f;
int maxTokens = 512;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "-m" && i + 1 < args.Length) model = args[++i];
    else if (args[i] == "--temp" && i + 1 < args.Length && float.TryParse(args[i + 1], CultureInfo.InvariantCulture, out temperature)) i++;
    else if (args[i] == "-n" && i + 1 < args.Length && int.TryParse(args[i + 1], out maxTokens)) i++;
    else { Console.Error.WriteLine("usage: Chat [-m MODEL.gguf] [--temp T] [-n MAX_TOKENS]"); return 1; }
}
if (!File.Exists(model)) { Console.Error.WriteLine($"model file not found: {model}"); return 1; }

using var eurus = EurusModel.Load(model);
using var chat = new ChatSession(eurus, new ChatSessionOptions { OnContextFull = ContextFullPolicy.DropOldestTurns });
var settings = new SamplingSettings { Temperature = temperature, MaxTokens = maxTokens };

// One token source per reply, replaced (never reused after a cancel) and cancelled under a lock, so a Ctrl-C that
// arrives as a reply ends never touches a disposed source.
CancellationTokenSource? replying = null;
var gate = new object();
Console.CancelKeyPress += (_, e) =>
{
    lock (gate)
    {
        if (replying is null) return; // at the prompt, Ctrl-C quits
        e.Cancel = true;
        replying.Cancel();
    }
};

Console.Error.WriteLine($"{Path.GetFileName(model)}: {eurus.ContextLength} positions. Type a message; an empty line quits.");
while (true)
{
    Console.Error.Write("\n> ");
    string? line = Console.ReadLine();
    if (string.IsNullOrWhiteSpace(line)) return 0;
    using var cts = new CancellationTokenSource();
    lock (gate) replying = cts;
    try
    {
        await foreach (var piece in chat.SendAsync(line, settings, cts.Token)) Console.Write(piece);
    }
    catch (OperationCanceledException) { Console.Error.Write(" [stopped]"); }
    catch (ContextFullException e) { Console.Error.WriteLine(e.Message); }
    finally { lock (gate) replying = null; }
    Console.WriteLine();
    Console.Error.WriteLine($"[{chat.LastTimings}; {chat.Tokens.Count} tokens in context, {chat.DroppedTurns} turns dropped]");
}
