using System.Net;
using System.Text.Json;

namespace Eurus.Server.Tests;

/// <summary>The prompt cache over HTTP: <c>cache_prompt</c>, the cached-token counts in <c>usage</c>, <c>timings</c>, <c>/slots</c> and <c>/metrics</c>.</summary>
public class PromptCacheServerTests
{
    private sealed record Turn(string Text, int PromptTokens, int Cached, int Evaluated, int Completion);

    private static async Task<Turn> Chat(TestServer server, object[] messages, bool? cachePrompt)
    {
        var body = new Dictionary<string, object> { ["messages"] = messages, ["max_tokens"] = 12, ["temperature"] = 0, ["ignore_eos"] = true };
        if (cachePrompt is bool c) body["cache_prompt"] = c;
        using var resp = await server.PostAsync("/v1/chat/completions", JsonSerializer.Serialize(body));
        string json = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.StatusCode == HttpStatusCode.OK, json);
        using var doc = JsonDocument.Parse(json);
        var usage = doc.RootElement.GetProperty("usage");
        var timings = doc.RootElement.GetProperty("timings");
        int cached = usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
        Assert.Equal(cached, timings.GetProperty("cache_n").GetInt32());
        return new Turn(doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!,
            usage.GetProperty("prompt_tokens").GetInt32(), cached, timings.GetProperty("prompt_n").GetInt32(), usage.GetProperty("completion_tokens").GetInt32());
    }

    private static async Task<List<Turn>> Conversation(TestServer server, bool? cachePrompt)
    {
        string[] users = ["Who made the heaven and the earth?", "And what did he say?", "Then what?"];
        var messages = new List<object>();
        var turns = new List<Turn>();
        foreach (var u in users)
        {
            messages.Add(new { role = "user", content = u });
            var t = await Chat(server, [.. messages], cachePrompt);
            turns.Add(t);
            messages.Add(new { role = "assistant", content = t.Text });
        }
        return turns;
    }

    [Fact]
    public async Task TheNextTurnEvaluatesOnlyItsNewTokensAndAnswersAsWithoutTheCache()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { Parallel = 2 });
        var cached = await Conversation(server, null);
        var uncached = await Conversation(server, false);
        Assert.Equal(uncached.Select(t => t.Text), cached.Select(t => t.Text));
        Assert.All(uncached, t => Assert.Equal((0, t.PromptTokens), (t.Cached, t.Evaluated)));
        Assert.Equal(0, cached[0].Cached);
        for (int i = 1; i < cached.Count; i++)
        {
            var (prev, t) = (cached[i - 1], cached[i]);
            Assert.Equal(t.PromptTokens, t.Cached + t.Evaluated);
            // Everything the slot evaluated last turn is reused: the previous prompt and its answer (but its last
            // token, sampled and never evaluated); only "</s>[INST] new message [/INST]" and that token are evaluated.
            Assert.True(t.Cached >= prev.PromptTokens + prev.Completion - 1, $"turn {i + 1}: {t.Cached} cached, previous turn {prev.PromptTokens} + {prev.Completion}");
            Assert.True(t.Evaluated < t.PromptTokens / 2, $"turn {i + 1} evaluated {t.Evaluated} of {t.PromptTokens} prompt tokens");
        }

        using var slots = JsonDocument.Parse(await server.Http.GetStringAsync("/slots"));
        Assert.Equal(2, slots.RootElement.GetArrayLength());
        Assert.Contains(slots.RootElement.EnumerateArray(), s => s.GetProperty("n_cached").GetInt32() > 0 && !s.GetProperty("is_processing").GetBoolean());

        string metrics = await server.Http.GetStringAsync("/metrics");
        double Metric(string name) => double.Parse(metrics.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(cached.Sum(t => t.Cached), Metric("eurus_prompt_tokens_cached_total"));
        Assert.Equal(cached.Sum(t => t.Evaluated) + uncached.Sum(t => t.Evaluated), Metric("eurus_prompt_tokens_total"));
        Assert.Equal(cached.Sum(t => t.Completion) + uncached.Sum(t => t.Completion), Metric("eurus_generated_tokens_total"));
        Assert.Equal(0, Metric("eurus_slots_busy"));
        Assert.Equal(2, Metric("eurus_slots_total"));
        Assert.Contains("eurus_time_to_first_token_seconds_bucket{endpoint=\"chat\",le=", metrics);
        Assert.Contains("eurus_request_duration_seconds_count{endpoint=\"chat\"} 6", metrics);
        Assert.Contains("eurus_requests_total{endpoint=\"chat\",outcome=\"ok\"} 6", metrics);
    }

    [Fact]
    public async Task StreamedAnswersCarryTimingsWithTheCachedCount()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { Parallel = 1 });
        const string body = """{"prompt": "And God said, Let there be light", "max_tokens": 6, "stream": true, "stream_options": {"include_usage": true}, "temperature": 0}""";
        await server.StreamAsync("/v1/completions", body);
        var events = await server.StreamAsync("/v1/completions", body);
        using var last = JsonDocument.Parse(events[^2]);
        using var usage = JsonDocument.Parse(events[^1]);
        int prompt = usage.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        Assert.Equal(prompt - 1, last.RootElement.GetProperty("timings").GetProperty("cache_n").GetInt32());
        Assert.Equal(1, last.RootElement.GetProperty("timings").GetProperty("prompt_n").GetInt32());
        Assert.Equal(prompt - 1, usage.RootElement.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
    }
}
