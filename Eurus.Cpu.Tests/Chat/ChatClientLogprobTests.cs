using System.ComponentModel;
using System.Text.Json;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Microsoft.Extensions.AI;
using Xunit;

namespace Eurus.Cpu.Tests.Chat;

/// <summary>
/// Log probabilities through <see cref="EurusChatClient"/>: asked for with OpenAI's <c>logprobs</c> and
/// <c>top_logprobs</c> in <see cref="ChatOptions.AdditionalProperties"/>, given back as the session's
/// <see cref="GeneratedToken"/>s under <see cref="EurusChatClient.LogprobsKey"/>, on the whole response and on each
/// streamed update (its own tokens).
/// </summary>
public sealed class ChatClientLogprobTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static EurusModel Load() => EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 2, ContextLength = 256 });

    private static ChatOptions Asking(object? logprobs, object? top, int maxTokens = 24)
    {
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = maxTokens, AdditionalProperties = [] };
        if (logprobs is not null) options.AdditionalProperties[EurusChatClient.LogprobsKey] = logprobs;
        if (top is not null) options.AdditionalProperties[EurusChatClient.TopLogprobsKey] = top;
        return options;
    }

    private static IReadOnlyList<GeneratedToken>? Tokens(AdditionalPropertiesDictionary? properties) =>
        properties?.TryGetValue(EurusChatClient.LogprobsKey, out object? value) == true ? Assert.IsAssignableFrom<IReadOnlyList<GeneratedToken>>(value) : null;

    private static void AssertSame(IReadOnlyList<GeneratedToken> expected, IReadOnlyList<GeneratedToken> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Id, actual[i].Id);
            Assert.Equal(expected[i].Text, actual[i].Text);
            Assert.Equal(expected[i].Logprob, actual[i].Logprob);
            Assert.Equal(expected[i].TopLogprobs, actual[i].TopLogprobs);
        }
    }

    [Fact]
    public async Task TheTokensLogprobsAreTheSessionsForTheSameGreedyRun()
    {
        using var model = Load();
        using var client = new EurusChatClient(model);
        ChatMessage[] conversation = [new(ChatRole.User, "Who made the heaven and the earth?")];
        var options = Asking(true, 5);
        var settings = client.ToSamplingSettings(options);
        Assert.True(settings.Logprobs);
        Assert.Equal(5, settings.TopLogprobs);

        var response = await client.GetResponseAsync(conversation, options);
        var tokens = Tokens(response.AdditionalProperties)!;
        Assert.NotNull(tokens);
        List<GeneratedToken> expected;
        using (var session = model.CreateSession())
            expected = await session.GenerateTokensAsync(EurusChatClient.EncodePrompt(model.Tokenizer, conversation), settings).Where(t => t.Id >= 0).ToListAsync();
        AssertSame(expected, tokens);
        Assert.Equal(response.Usage!.OutputTokenCount, tokens.Count);
        Assert.Equal(response.Text, string.Concat(tokens.Select(t => t.Text)));
        output.WriteLine(string.Join(" ", tokens.Select(t => $"{JsonSerializer.Serialize(t.Text)}:{t.Logprob:0.###}")));
        foreach (var t in tokens)
        {
            Assert.NotNull(t.Logprob);
            Assert.True(t.Logprob <= 0);
            Assert.Equal(5, t.TopLogprobs!.Count);
            for (int i = 1; i < t.TopLogprobs.Count; i++) Assert.True(t.TopLogprobs[i].Logprob <= t.TopLogprobs[i - 1].Logprob);
            // Greedy: the chosen token is the most likely one, first among the alternatives, with its own log probability.
            Assert.Equal(t.Id, t.TopLogprobs[0].Id);
            Assert.Equal(t.Logprob, t.TopLogprobs[0].Logprob);
        }

        // Streamed: each update carries its own tokens (their texts make its text); together, the whole response's.
        var updates = await client.GetStreamingResponseAsync(conversation, options).ToListAsync();
        var streamed = new List<GeneratedToken>();
        foreach (var u in updates)
        {
            var mine = Tokens(u.AdditionalProperties);
            if (u.Text.Length > 0) Assert.Equal(u.Text, string.Concat(mine!.Select(t => t.Text)));
            if (mine is not null) streamed.AddRange(mine);
        }
        Assert.NotNull(Tokens(updates[^1].AdditionalProperties)); // the last update has the key, whatever is left (perhaps nothing)
        AssertSame(expected, streamed);
    }

    [Fact]
    public async Task OptionsTakeBoolsIntsAndJsonAndRefuseOtherValues()
    {
        using var model = Load();
        using var client = new EurusChatClient(model);
        // Not asked: nothing, and sampling settings without log probabilities.
        var plain = await client.GetResponseAsync("Who made the heaven?", new ChatOptions { Temperature = 0, MaxOutputTokens = 4 });
        Assert.Null(Tokens(plain.AdditionalProperties));
        Assert.False(client.ToSamplingSettings(Asking(false, null)).Logprobs);
        Assert.Null(Tokens((await client.GetResponseAsync("Who made the heaven?", Asking(false, 0, 4))).AdditionalProperties));

        // logprobs alone: no alternatives; top_logprobs alone implies logprobs; JSON values (options that came as JSON).
        var only = Tokens((await client.GetResponseAsync("Who made the heaven?", Asking(true, null, 4))).AdditionalProperties)!;
        Assert.Equal(4, only.Count);
        Assert.All(only, t => { Assert.NotNull(t.Logprob); Assert.Null(t.TopLogprobs); });
        var implied = client.ToSamplingSettings(Asking(null, 3));
        Assert.True(implied.Logprobs);
        Assert.Equal(3, implied.TopLogprobs);
        using var json = JsonDocument.Parse("""{"logprobs": true, "top_logprobs": 2}""");
        var fromJson = client.ToSamplingSettings(Asking(json.RootElement.GetProperty("logprobs"), json.RootElement.GetProperty("top_logprobs")));
        Assert.True(fromJson.Logprobs);
        Assert.Equal(2, fromJson.TopLogprobs);
        Assert.Equal(7, client.ToSamplingSettings(Asking(true, 7L)).TopLogprobs);

        Assert.Throws<ArgumentException>(() => client.ToSamplingSettings(Asking("yes", null)));
        Assert.Throws<ArgumentException>(() => client.ToSamplingSettings(Asking(true, "5")));
        Assert.Throws<ArgumentException>(() => client.ToSamplingSettings(Asking(true, 21)));
        Assert.Throws<ArgumentException>(() => client.ToSamplingSettings(Asking(true, -1)));
        Assert.Throws<ArgumentException>(() => client.ToSamplingSettings(Asking(true, 2.5)));
    }

    /// <summary>A reply held back as a possible call: its tokens' log probabilities come with the last update.</summary>
    [Fact]
    public async Task AHeldBackCallsTokensComeWithTheLastUpdate()
    {
        using var model = EurusModel.Load(Shared.LongContextCopy.Write(TestPaths.Q8, 1024), new ModelOptions { Threads = 1, ContextLength = 1024 });
        using var client = new EurusChatClient(model);
        var count = AIFunctionFactory.Create(([Description("psalm")] int n) => $"Psalm {n}", "count", "Counts verses.");
        var options = Asking(true, 1, 300);
        options.Tools = [count];
        options.ToolMode = ChatToolMode.RequireAny;
        var updates = await client.GetStreamingResponseAsync("How long is Psalm 23?", options).ToListAsync();
        Assert.Equal(ChatFinishReason.ToolCalls, updates[^1].FinishReason);
        var tokens = updates.SelectMany(u => Tokens(u.AdditionalProperties) ?? []).ToList();
        Assert.Equal(updates[^1].Contents.OfType<UsageContent>().Single().Details.OutputTokenCount, tokens.Count);
        Assert.Equal(tokens.Count, Tokens(updates[^1].AdditionalProperties)!.Count);
        Assert.StartsWith("{\"name\": \"count\"", string.Concat(tokens.Select(t => t.Text)));
        // Under the grammar the sampled token need not be the model's favourite: its log probability is its own.
        Assert.All(tokens, t => Assert.Single(t.TopLogprobs!));
    }
}
