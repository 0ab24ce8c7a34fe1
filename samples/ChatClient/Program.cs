// Eurus as a Microsoft.Extensions.AI IChatClient, the way an app wires any chat model: the model is a singleton in the
// host's service container, the client is registered with AddChatClient and wrapped in the OpenTelemetry middleware,
// ChatOptions carry the sampling settings, and answers stream. Each line of standard input is a user turn (an empty
// line or the end of input quits); Ctrl-C stops the current answer.
// Usage: dotnet run -c Release --project samples/ChatClient -- [-m MODEL.gguf] [-n MAX_TOKENS] [--temp T] [--seed N]
using System.Diagnostics;
using System.Globalization;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

string model = Path.Combine(AppContext.BaseDirectory, "models", "kjv-tiny-Q8_0.gguf");
var options = new ChatOptions { MaxOutputTokens = 256, Temperature = 0.7f };
for (int i = 0; i < args.Length; i++)
{
    string? next = i + 1 < args.Length ? args[i + 1] : null;
    if (args[i] == "-m" && next is not null) { model = next; i++; }
    else if (args[i] == "-n" && int.TryParse(next, out int n)) { options.MaxOutputTokens = n; i++; }
    else if (args[i] == "--temp" && float.TryParse(next, CultureInfo.InvariantCulture, out float t)) { options.Temperature = t; i++; }
    else if (args[i] == "--seed" && long.TryParse(next, out long seed)) { options.Seed = seed; i++; }
    else { Console.Error.WriteLine("usage: ChatClient [-m MODEL.gguf] [-n MAX_TOKENS] [--temp T] [--seed N]"); return 1; }
}
if (!File.Exists(model)) { Console.Error.WriteLine($"model file not found: {model}"); return 1; }

// The traces the OpenTelemetry middleware records (an OpenTelemetry SDK exporter would subscribe the same way).
const string TraceSource = "Eurus.Samples.ChatClient";
using var listener = new ActivityListener
{
    ShouldListenTo = source => source.Name == TraceSource,
    Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
    ActivityStopped = a => Console.Error.WriteLine($"[otel] {a.DisplayName}: {a.Duration.TotalMilliseconds:0} ms, " +
        $"{a.GetTagItem("gen_ai.usage.input_tokens")} in, {a.GetTagItem("gen_ai.usage.output_tokens")} out"),
};
ActivitySource.AddActivityListener(listener);

var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders();
builder.Services.AddSingleton(_ => EurusModel.Load(model)); // default context: 4096 positions, or the model's if fewer
builder.Services.AddChatClient(sp => new EurusChatClient(sp.GetRequiredService<EurusModel>()))
    .UseOpenTelemetry(sourceName: TraceSource);
using var host = builder.Build();
var chat = host.Services.GetRequiredService<IChatClient>();
var eurus = host.Services.GetRequiredService<EurusModel>();
Console.Error.WriteLine($"{Path.GetFileName(model)}: {eurus.ContextLength} positions, {eurus.SessionMemoryBytes / 1048576.0:0.#} MiB per session.");

CancellationTokenSource? answering = null;
var gate = new object();
Console.CancelKeyPress += (_, e) =>
{
    lock (gate)
    {
        if (answering is null) return; // at the prompt, Ctrl-C quits
        e.Cancel = true;
        answering.Cancel();
    }
};

List<ChatMessage> history = [];
while (Console.ReadLine() is { Length: > 0 } line)
{
    history.Add(new ChatMessage(ChatRole.User, line));
    using var cts = new CancellationTokenSource();
    lock (gate) answering = cts;
    var updates = new List<ChatResponseUpdate>();
    try
    {
        await foreach (var update in chat.GetStreamingResponseAsync(history, options, cts.Token))
        {
            Console.Write(update.Text);
            updates.Add(update);
        }
    }
    catch (OperationCanceledException) { Console.Error.Write(" [stopped]"); }
    finally { lock (gate) answering = null; }
    Console.WriteLine();
    history.AddMessages(updates); // the answer (as far as it went) becomes part of the conversation
    var usage = updates.ToChatResponse().Usage;
    Console.Error.WriteLine($"[{usage?.InputTokenCount} in, {usage?.OutputTokenCount} out]");
}
return 0;
