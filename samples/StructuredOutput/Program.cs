// Structured output: IChatClient.GetResponseAsync<T> returns a typed object. The client turns T's JSON Schema into a
// grammar, so every token the model samples keeps the answer valid JSON of that shape; the answer always parses.
// (The demo model only knows the King James Bible, so the values are nonsense; a real model fills them sensibly.)
// Usage: dotnet run -c Release --project samples/StructuredOutput -- [-m MODEL.gguf] [--seed N] [QUESTION]
using System.ComponentModel.DataAnnotations;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Microsoft.Extensions.AI;

string model = Path.Combine(AppContext.BaseDirectory, "models", "kjv-tiny-Q8_0.gguf");
string question = "Name a verse of the Psalms and its mood.";
long seed = 1;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "-m" && i + 1 < args.Length) model = args[++i];
    else if (args[i] == "--seed" && i + 1 < args.Length && long.TryParse(args[i + 1], out seed)) i++;
    else question = args[i];
}
if (!File.Exists(model)) { Console.Error.WriteLine($"model file not found: {model}"); return 1; }

using var eurus = EurusModel.Load(model);
using IChatClient chat = new EurusChatClient(eurus);
var response = await chat.GetResponseAsync<Verse>(question, new ChatOptions { Temperature = 0.8f, Seed = seed, MaxOutputTokens = 400 });
Console.Error.WriteLine($"JSON: {response.Text.Trim()}");
Verse verse = response.Result;
Console.WriteLine($"{verse.Book} {verse.Chapter}:{verse.Number} ({verse.Mood}{(verse.Memorable ? ", memorable" : "")})");
return 0;

enum Mood { Joyful, Sorrowful, Wrathful }

// [MaxLength] reaches the schema (maxLength) and so the grammar: the string must close within 24 characters.
record Verse([property: MaxLength(24)] string Book, int Chapter, int Number, bool Memorable, Mood Mood);
