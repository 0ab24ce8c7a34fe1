using System.Text.Json;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Sampling;
using Microsoft.Extensions.AI;

namespace Eurus.Server.Tests;

/// <summary>Answers over HTTP, streamed or whole, equal what the library generates for the same prompt and seed.</summary>
public class CompletionTests
{
    [Fact]
    public async Task StreamingAndWholeAnswersEqualTheLibrary()
    {
        await using var server = await TestServer.StartAsync();
        using var model = TestServer.LoadModel();
        var settings = new SamplingSettings { Seed = 11, Temperature = 0.9f, TopK = 30, MaxTokens = 20 };
        const string sampling = "\"seed\": 11, \"temperature\": 0.9, \"top_k\": 30, \"max_tokens\": 20";

        // /v1/completions: the prompt is encoded with BOS, as the library's GenerateAsync does.
        string expected = await TestServer.LibraryText(model, model.Tokenizer.Encode("And God said"), settings);
        using (var resp = await server.PostAsync("/v1/completions", $$"""{"model": "x", "prompt": "And God said", {{sampling}}}"""))
        {
            Assert.Equal(200, (int)resp.StatusCode);
            using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
            var root = doc.RootElement;
            Assert.Equal("text_completion", root.GetProperty("object").GetString());
            Assert.Equal(expected, root.GetProperty("choices")[0].GetProperty("text").GetString());
            Assert.Equal(4, root.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        }
        var events = await server.StreamAsync("/v1/completions", $$"""{"prompt": "And God said", "stream": true, {{sampling}}}""");
        Assert.Equal(expected, TestServer.StreamText(events));

        // /v1/chat/completions: the Mistral-Instruct prompt.
        var prompt = EurusChatClient.EncodePrompt(model.Tokenizer, [new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "Who is the LORD?")]);
        string expectedChat = await TestServer.LibraryText(model, prompt, settings);
        string messages = """[{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Who is "}, {"type": "text", "text": "the LORD?"}]}]""";
        using (var resp = await server.PostAsync("/v1/chat/completions", $$"""{"messages": {{messages}}, {{sampling}}}"""))
        {
            Assert.Equal(200, (int)resp.StatusCode);
            using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
            var choice = doc.RootElement.GetProperty("choices")[0];
            Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
            Assert.Equal(expectedChat, choice.GetProperty("message").GetProperty("content").GetString());
            Assert.Equal(prompt.Count, doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        }
        var chatEvents = await server.StreamAsync("/v1/chat/completions",
            $$"""{"messages": {{messages}}, "stream": true, "stream_options": {"include_usage": true}, {{sampling}}}""");
        Assert.Equal(expectedChat, TestServer.StreamText(chatEvents));
        using var usage = JsonDocument.Parse(chatEvents[^1]);
        Assert.Equal(prompt.Count, usage.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        using var last = JsonDocument.Parse(chatEvents[^2]);
        Assert.NotNull(last.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task SixteenConcurrentStreamingClientsGetTheirOwnAnswers()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { Parallel = 4 });
        using var model = TestServer.LoadModel();
        string[] starts = ["And God said", "In the beginning", "The LORD is", "Blessed are", "And it came to pass", "Thou shalt", "Behold", "Then Jesus"];
        var requests = Enumerable.Range(0, 16).Select(i => (Prompt: starts[i % starts.Length], Seed: 1000 + i, Max: 8 + i % 5)).ToArray();
        var answers = await Task.WhenAll(requests.Select(async r =>
            TestServer.StreamText(await server.StreamAsync("/v1/completions",
                $$"""{"prompt": "{{r.Prompt}}", "stream": true, "seed": {{r.Seed}}, "max_tokens": {{r.Max}}, "ignore_eos": true}"""))));
        for (int i = 0; i < requests.Length; i++)
        {
            var r = requests[i];
            string expected = await TestServer.LibraryText(model, model.Tokenizer.Encode(r.Prompt),
                new SamplingSettings { Seed = (ulong)r.Seed, MaxTokens = r.Max, StopAtEos = false });
            Assert.Equal(expected, answers[i]);
        }
        // The steps were shared: far fewer weight passes than tokens evaluated.
        using var health = JsonDocument.Parse(await server.Http.GetStringAsync("/health"));
        long steps = health.RootElement.GetProperty("steps").GetInt64(), tokens = health.RootElement.GetProperty("step_tokens").GetInt64();
        Assert.True(steps * 2 < tokens, $"{steps} steps for {tokens} tokens");
        // Same prompt, different seeds: independent samples, not one stream copied to many clients.
        Assert.True(answers.Where((_, i) => i % starts.Length == 0).Distinct().Count() > 1);
    }
}
