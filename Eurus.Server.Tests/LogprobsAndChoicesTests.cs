using System.Text;
using System.Text.Json;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;
using Microsoft.Extensions.AI;

namespace Eurus.Server.Tests;

/// <summary>logprobs/top_logprobs and n &gt; 1 on both endpoints, whole and streamed.</summary>
public class LogprobsAndChoicesTests
{
    private const string Messages = """[{"role": "user", "content": "Who made the heaven and the earth?"}]""";

    private static async Task<List<GeneratedToken>> LibraryTokens(EurusModel model, IReadOnlyList<int> prompt, SamplingSettings settings)
    {
        using var session = model.CreateSession();
        var tokens = new List<GeneratedToken>();
        await foreach (var t in session.GenerateTokensAsync(prompt, settings)) if (t.Id >= 0) tokens.Add(t);
        return tokens;
    }

    private static IEnumerable<JsonElement> ChoicesOf(IEnumerable<string> events, int index) => events
        .Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices"))
        .SelectMany(c => c.EnumerateArray())
        .Where(c => c.GetProperty("index").GetInt32() == index);

    [Fact]
    public async Task ChatLogprobsMatchTheLibraryAndStreamingAgreesWithWhole()
    {
        await using var server = await TestServer.StartAsync();
        using var model = TestServer.LoadModel();
        var prompt = EurusChatClient.EncodePrompt(model.Tokenizer, [new ChatMessage(ChatRole.User, "Who made the heaven and the earth?")]);
        var expected = await LibraryTokens(model, prompt, SamplingSettings.Greedy with { MaxTokens = 12, TopLogprobs = 3 });
        string body = $$"""{"messages": {{Messages}}, "temperature": 0, "max_tokens": 12, "logprobs": true, "top_logprobs": 3}""";

        using var resp = await server.PostAsync("/v1/chat/completions", body);
        Assert.Equal(200, (int)resp.StatusCode);
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        var choice = doc.RootElement.GetProperty("choices")[0];
        var content = choice.GetProperty("logprobs").GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(expected.Count, content.Count);
        var bytes = new List<byte>();
        for (int i = 0; i < expected.Count; i++)
        {
            var c = content[i];
            Assert.Equal(expected[i].Logprob!.Value, c.GetProperty("logprob").GetSingle(), 3);
            Assert.Equal(Encoding.UTF8.GetString(model.Tokenizer.GetPieceBytes(expected[i].Id)), c.GetProperty("token").GetString());
            bytes.AddRange(c.GetProperty("bytes").EnumerateArray().Select(b => (byte)b.GetInt32()));
            var top = c.GetProperty("top_logprobs").EnumerateArray().ToList();
            Assert.Equal(3, top.Count);
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal(expected[i].TopLogprobs![k].Logprob, top[k].GetProperty("logprob").GetSingle(), 3);
                Assert.Equal(Encoding.UTF8.GetString(model.Tokenizer.GetPieceBytes(expected[i].TopLogprobs![k].Id)), top[k].GetProperty("token").GetString());
                if (k > 0) Assert.True(top[k].GetProperty("logprob").GetSingle() <= top[k - 1].GetProperty("logprob").GetSingle());
            }
            Assert.Equal(c.GetProperty("logprob").GetSingle(), top[0].GetProperty("logprob").GetSingle()); // greedy: the top token
        }
        // The tokens' bytes spell the answer.
        Assert.Equal(choice.GetProperty("message").GetProperty("content").GetString(), Encoding.UTF8.GetString(bytes.ToArray()));

        // Streamed: the chunks' logprobs, in order, are the whole answer's.
        var events = await server.StreamAsync("/v1/chat/completions", body.Replace("{\"messages\"", "{\"stream\": true, \"messages\""));
        var streamed = ChoicesOf(events, 0)
            .Where(c => c.TryGetProperty("logprobs", out var lp) && lp.ValueKind == JsonValueKind.Object)
            .SelectMany(c => c.GetProperty("logprobs").GetProperty("content").EnumerateArray()).ToList();
        Assert.Equal(content.Count, streamed.Count);
        for (int i = 0; i < content.Count; i++)
        {
            Assert.Equal(content[i].GetProperty("token").GetString(), streamed[i].GetProperty("token").GetString());
            Assert.Equal(content[i].GetProperty("logprob").GetSingle(), streamed[i].GetProperty("logprob").GetSingle());
        }
    }

    [Fact]
    public async Task CompletionLogprobsHaveTheLegacyShapeAndStreamingAgrees()
    {
        await using var server = await TestServer.StartAsync();
        using var model = TestServer.LoadModel();
        var expected = await LibraryTokens(model, model.Tokenizer.Encode("And God said"), new SamplingSettings { Seed = 9, Temperature = 0.8f, MaxTokens = 10, StopAtEos = false, TopLogprobs = 2 });
        string body = """{"prompt": "And God said", "seed": 9, "temperature": 0.8, "max_tokens": 10, "ignore_eos": true, "logprobs": 2}""";
        using var resp = await server.PostAsync("/v1/completions", body);
        Assert.Equal(200, (int)resp.StatusCode);
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        var choice = doc.RootElement.GetProperty("choices")[0];
        string text = choice.GetProperty("text").GetString()!;
        var lp = choice.GetProperty("logprobs");
        var tokens = lp.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToList();
        var values = lp.GetProperty("token_logprobs").EnumerateArray().Select(t => t.GetSingle()).ToList();
        var offsets = lp.GetProperty("text_offset").EnumerateArray().Select(t => t.GetInt32()).ToList();
        var tops = lp.GetProperty("top_logprobs").EnumerateArray().ToList();
        Assert.Equal(expected.Count, tokens.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Logprob!.Value, values[i], 3);
            Assert.Equal(Encoding.UTF8.GetString(model.Tokenizer.GetPieceBytes(expected[i].Id)), tokens[i]);
            // Each token's text sits at its offset in the completion (this model's pieces are whole characters here).
            Assert.Equal(tokens[i], text.Substring(offsets[i], tokens[i].Length));
            var top = tops[i].EnumerateObject().ToList();
            Assert.InRange(top.Count, 1, 2);
            Assert.True(top.Max(p => p.Value.GetSingle()) >= values[i]);
        }
        var events = await server.StreamAsync("/v1/completions", body.Replace("{\"prompt\"", "{\"stream\": true, \"prompt\""));
        var streamed = ChoicesOf(events, 0).Where(c => c.TryGetProperty("logprobs", out var l) && l.ValueKind == JsonValueKind.Object)
            .SelectMany(c => c.GetProperty("logprobs").GetProperty("token_logprobs").EnumerateArray().Select(v => v.GetSingle())).ToList();
        Assert.Equal(values, streamed);
        Assert.Equal(text, TestServer.StreamText(events));
    }

    [Fact]
    public async Task NChoicesShareOnePromptEvaluationAndEachEqualsTheLibraryWithItsSeed()
    {
        await using var server = await TestServer.StartAsync();
        using var model = TestServer.LoadModel();
        var prompt = EurusChatClient.EncodePrompt(model.Tokenizer, [new ChatMessage(ChatRole.User, "Who made the heaven and the earth?")]);
        var settings = new SamplingSettings { Seed = 100, Temperature = 1.0f, MaxTokens = 16 };
        var expected = new List<string>();
        for (int i = 0; i < 3; i++) expected.Add(await TestServer.LibraryText(model, prompt, settings with { Seed = 100 + (ulong)i }));
        Assert.True(expected.Distinct().Count() > 1);
        string body = $$"""{"messages": {{Messages}}, "n": 3, "seed": 100, "temperature": 1.0, "max_tokens": 16}""";

        using var resp = await server.PostAsync("/v1/chat/completions", body);
        Assert.Equal(200, (int)resp.StatusCode);
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        var choices = doc.RootElement.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], choices.Select(c => c.GetProperty("index").GetInt32()));
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], choices[i].GetProperty("message").GetProperty("content").GetString());
        // The prompt was evaluated once (or taken from the cache), not once per choice.
        var timings = doc.RootElement.GetProperty("timings");
        Assert.Equal(prompt.Count, timings.GetProperty("prompt_n").GetInt32() + timings.GetProperty("cache_n").GetInt32());
        var usage = doc.RootElement.GetProperty("usage");
        Assert.Equal(prompt.Count, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(timings.GetProperty("predicted_n").GetInt32(), usage.GetProperty("completion_tokens").GetInt32());

        // Streamed: every choice's chunks carry its index, and each choice's text is the same.
        var events = await server.StreamAsync("/v1/chat/completions", body.Replace("{\"messages\"", "{\"stream\": true, \"messages\""));
        for (int i = 0; i < 3; i++)
        {
            var chunks = ChoicesOf(events, i).ToList();
            string text = string.Concat(chunks.Select(c => c.GetProperty("delta").TryGetProperty("content", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : ""));
            Assert.Equal(expected[i], text);
            Assert.Single(chunks, c => c.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String);
        }

        // Completions too.
        using var comp = await server.PostAsync("/v1/completions", """{"prompt": "And God said", "n": 2, "seed": 4, "temperature": 1.0, "max_tokens": 8}""");
        Assert.Equal(200, (int)comp.StatusCode);
        using var compDoc = JsonDocument.Parse(await comp.Content.ReadAsStringAsync());
        var compChoices = compDoc.RootElement.GetProperty("choices").EnumerateArray().ToList();
        for (int i = 0; i < 2; i++)
            Assert.Equal(await TestServer.LibraryText(model, model.Tokenizer.Encode("And God said"), new SamplingSettings { Seed = 4 + (ulong)i, Temperature = 1.0f, MaxTokens = 8 }),
                compChoices[i].GetProperty("text").GetString());
    }
}
