using System.Text.Json;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Grammars;
using Microsoft.Extensions.AI;
using Xunit;

namespace Eurus.Cpu.Tests.Chat;

/// <summary>
/// <see cref="EurusChatClient"/> honours <see cref="ChatOptions.ResponseFormat"/>: <c>GetResponseAsync&lt;T&gt;</c>
/// returns a parsed record from the demo model (a KJV model: its values are nonsense, but the JSON is valid), and
/// <see cref="ChatResponseFormat.Json"/> gives a JSON object.
/// </summary>
public sealed class StructuredOutputTests(Xunit.Abstractions.ITestOutputHelper output)
{
    public enum Mood { Joyful, Sorrowful, Wrathful }

    // [MaxLength] becomes the schema's maxLength: the tiny model never closes a string by itself, a bounded one must close.
    public sealed record Verse([property: System.ComponentModel.DataAnnotations.MaxLength(24)] string Book, int Chapter, int Number, bool Memorable, Mood Mood);

    private static EurusModel Load() => EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 1024 });

    [Fact]
    public async Task GetResponseAsyncOfARecordReturnsAParsedObject()
    {
        using var model = Load();
        using IChatClient client = new EurusChatClient(model);
        int parsed = 0;
        foreach (float temperature in new[] { 0f, 0.8f, 1.2f })
            for (int seed = 0; seed < 3; seed++)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
                var response = await client.GetResponseAsync<Verse>("Name a verse of the Psalms.",
                    new ChatOptions { Temperature = temperature, Seed = seed, MaxOutputTokens = 900 }, cancellationToken: cts.Token);
                output.WriteLine($"t={temperature} seed={seed}: {response.Text}");
                Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
                Assert.True(response.TryGetResult(out var verse), response.Text);
                Assert.True(verse!.Book.Length <= 24);
                Assert.True(Enum.IsDefined(verse.Mood));
                parsed++;
                if (temperature == 0) break;
            }
        Assert.Equal(7, parsed);
    }

    [Fact]
    public async Task JsonFormatGivesAJsonObject()
    {
        using var model = Load();
        using IChatClient client = new EurusChatClient(model);
        // Any JSON object: strings are unbounded, and the tiny model rambles inside one until the token budget; what it
        // wrote is still a prefix of a JSON object.
        var response = await client.GetResponseAsync("Speak.", new ChatOptions { ResponseFormat = ChatResponseFormat.Json, Temperature = 1, Seed = 4, MaxOutputTokens = 60 });
        Assert.StartsWith("{", response.Text);
        int state = Grammar.JsonObject.Automaton.Start;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(response.Text)) state = Grammar.JsonObject.Automaton.Step(state, b);
        Assert.True(state >= 0, response.Text);
    }

    [Fact]
    public void ResponseFormatsMapOntoGrammars()
    {
        using var model = Load();
        using var client = new EurusChatClient(model);
        Assert.Null(client.ToSamplingSettings(new ChatOptions()).Grammar);
        Assert.Null(client.ToSamplingSettings(new ChatOptions { ResponseFormat = ChatResponseFormat.Text }).Grammar);
        Assert.Same(Grammar.JsonObject, client.ToSamplingSettings(new ChatOptions { ResponseFormat = ChatResponseFormat.Json }).Grammar);
        var schema = JsonDocument.Parse("""{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}""").RootElement;
        var g = client.ToSamplingSettings(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema) }).Grammar!;
        Assert.True(g.Matches("{\"a\": 3}"));
        Assert.False(g.Matches("{}"));
        Assert.Same(g, client.ToSamplingSettings(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema) }).Grammar);
        var bad = JsonDocument.Parse("""{"type":"string","pattern":"a+"}""").RootElement;
        var e = Assert.Throws<JsonSchemaGrammarException>(() => client.ToSamplingSettings(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(bad) }));
        Assert.Equal("pattern", e.Keyword);
    }
}
