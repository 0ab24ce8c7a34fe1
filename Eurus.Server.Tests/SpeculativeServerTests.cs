using System.Net;
using System.Text.Json;

namespace Eurus.Server.Tests;

/// <summary>
/// Speculative decoding over HTTP (llama-server's <c>speculative.n_max</c>, the server's --draft-max): by prompt lookup,
/// the same answer as without it, greedy and seeded, whole and streamed, with the draft counts in <c>timings</c>; by a
/// draft model (--model-draft, -md), the same greedy answer, and its drafts counted.
/// </summary>
public class SpeculativeServerTests
{
    private const string Verse = "In the beginning God created the heaven and the earth. And the earth was without form, and void. In the beginning God";

    private static async Task<(string Text, JsonElement Timings)> Complete(TestServer server, string fields)
    {
        using var resp = await server.PostAsync("/v1/completions", "{\"prompt\": \"" + Verse + "\", \"max_tokens\": 60, \"ignore_eos\": true, " + fields + "}");
        string body = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.StatusCode == HttpStatusCode.OK, body);
        using var doc = JsonDocument.Parse(body);
        return (doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!, doc.RootElement.GetProperty("timings").Clone());
    }

    [Fact]
    public async Task SpeculativeAnswersEqualPlainAnswers()
    {
        await using var server = await TestServer.StartAsync();
        int drafted = 0, accepted = 0;
        foreach (string sampling in new[] { "\"temperature\": 0", "\"temperature\": 0.9, \"seed\": 5", "\"temperature\": 1.2, \"top_k\": 0, \"seed\": 6" })
        {
            var plain = await Complete(server, sampling + ", \"cache_prompt\": false");
            var spec = await Complete(server, sampling + ", \"cache_prompt\": false, \"speculative.n_max\": 6");
            Assert.Equal(plain.Text, spec.Text);
            Assert.Equal(0, plain.Timings.GetProperty("draft_n").GetInt32());
            drafted += spec.Timings.GetProperty("draft_n").GetInt32();
            accepted += spec.Timings.GetProperty("draft_n_accepted").GetInt32();

            var events = await server.StreamAsync("/v1/completions", "{\"stream\": true, \"prompt\": \"" + Verse + "\", \"max_tokens\": 60, \"ignore_eos\": true, " + sampling + ", \"speculative.n_max\": 6}");
            Assert.Equal(plain.Text, TestServer.StreamText(events));
        }
        Assert.True(accepted > 0, $"{accepted} of {drafted} draft tokens accepted");
    }

    [Fact]
    public async Task ServerDefaultAppliesAndBadValuesAre400()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { DraftMax = 4 });
        var spec = await Complete(server, "\"temperature\": 0");
        Assert.True(spec.Timings.GetProperty("draft_n").GetInt32() > 0);
        var off = await Complete(server, "\"temperature\": 0, \"speculative.n_max\": 0");
        Assert.Equal(0, off.Timings.GetProperty("draft_n").GetInt32());
        Assert.Equal(spec.Text, off.Text);
        foreach (string bad in new[] { "33", "-1", "\"4\"" })
        {
            using var resp = await server.PostAsync("/v1/completions", "{\"prompt\": \"And God said\", \"speculative.n_max\": " + bad + "}");
            Assert.Equal(HttpStatusCode.BadRequest, resp.StatusCode);
        }
    }

    private static string DraftPath(string file) => Path.Combine(AppContext.BaseDirectory, "models", file);

    [Theory]
    [InlineData("kjv-tiny-Q4_0.gguf")]
    [InlineData("kjv-tiny-Q8_0.gguf")] // the model drafting for itself: every draft token is kept
    public async Task DraftModelGivesPlainGreedyAnswers(string draftFile)
    {
        var options = ServerOptions.Parse(["-md", DraftPath(draftFile)]);
        Assert.Equal(16, options.EffectiveDraftMax); // llama-server's default draft length with a draft model
        await using var server = await TestServer.StartAsync(options);
        var plain = await Complete(server, "\"temperature\": 0, \"cache_prompt\": false, \"speculative.n_max\": 0");
        Assert.Equal(0, plain.Timings.GetProperty("draft_n").GetInt32());
        int drafted = 0, accepted = 0;
        foreach (string fields in new[] { "\"temperature\": 0", "\"temperature\": 0, \"speculative.n_max\": 3" })
        {
            var spec = await Complete(server, fields);
            Assert.Equal(plain.Text, spec.Text);
            drafted += spec.Timings.GetProperty("draft_n").GetInt32();
            accepted += spec.Timings.GetProperty("draft_n_accepted").GetInt32();
            var events = await server.StreamAsync("/v1/completions", "{\"stream\": true, \"prompt\": \"" + Verse + "\", \"max_tokens\": 60, \"ignore_eos\": true, " + fields + "}");
            Assert.Equal(plain.Text, TestServer.StreamText(events));
        }
        Assert.True(accepted > 0, $"{accepted} of {drafted} draft tokens accepted");
        if (draftFile == "kjv-tiny-Q8_0.gguf") Assert.Equal(drafted, accepted);

        // Sampled drafts: a seeded answer is reproducible (its draws come from the request's seed).
        var a = await Complete(server, "\"temperature\": 0.9, \"seed\": 4");
        var b = await Complete(server, "\"temperature\": 0.9, \"seed\": 4");
        Assert.Equal(a.Text, b.Text);
        Assert.True(a.Timings.GetProperty("draft_n").GetInt32() > 0);
    }

    [Fact]
    public void DraftModelOfAnotherVocabularyIsRefusedAtStartup()
    {
        string dir = Directory.CreateTempSubdirectory("eurus-draft-").FullName;
        try
        {
            string path = Path.Combine(dir, "vocab-512.gguf");
            Eurus.Cpu.Model.SyntheticModel.Write(path, new Eurus.Cpu.Model.SyntheticModelOptions { Dim = 64, Layers = 1, Heads = 4, KvHeads = 2, FeedForward = 128, ContextLength = 64, Vocab = 512, Seed = 5 });
            var e = Assert.Throws<ArgumentException>(() => EurusServer.Build(new ServerOptions { ModelPath = TestServer.ModelPath, DraftModelPath = path, Port = 0, Threads = 1, ContextLength = 64 }));
            Assert.Contains("--model-draft", e.Message);
            Assert.Contains("vocabulary", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
