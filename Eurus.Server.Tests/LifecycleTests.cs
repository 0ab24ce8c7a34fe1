using System.Net;
using System.Text;
using System.Text.Json;

namespace Eurus.Server.Tests;

/// <summary>Slots, the queue, disconnects, authentication and bad input.</summary>
public class LifecycleTests
{
    private const string Endless = """{"prompt": "And God said", "stream": true, "ignore_eos": true, "max_tokens": 250, "seed": 3}""";

    private static async Task<JsonElement> Health(TestServer server)
    {
        using var doc = JsonDocument.Parse(await server.Http.GetStringAsync("/health"));
        return doc.RootElement.Clone();
    }

    private static async Task WaitIdle(TestServer server)
    {
        for (int i = 0; i < 200; i++)
        {
            var h = await Health(server);
            if (h.GetProperty("slots_processing").GetInt32() == 0 && h.GetProperty("requests_queued").GetInt32() == 0) return;
            await Task.Delay(25);
        }
        Assert.Fail("The server's slots were not freed.");
    }

    [Fact]
    public async Task AFullQueueGets429()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { Parallel = 1, Queue = 0 });
        var req = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(Endless, Encoding.UTF8, "application/json") };
        using var resp = await server.Http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await resp.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync());

        // One slot, no waiting room: of several requests arriving together at most one gets the slot (if the stream
        // above has ended by then), the others get 429 with an OpenAI-style body.
        var others = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => server.PostAsync("/v1/completions", """{"prompt": "x", "max_tokens": 2}""")));
        Assert.True(others.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests) >= 3, string.Join(", ", others.Select(r => r.StatusCode)));
        var refused = others.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        using (var err = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()))
            Assert.False(string.IsNullOrEmpty(err.RootElement.GetProperty("error").GetProperty("message").GetString()));
        foreach (var r in others) r.Dispose();
        Assert.EndsWith("data: [DONE]\n\n", await reader.ReadToEndAsync());
        await WaitIdle(server);
    }

    [Fact]
    public async Task DisconnectStopsTheGenerationAndFreesTheSlot()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { Parallel = 1, Queue = 0 });
        for (int round = 0; round < 2; round++)
        {
            long stepsBefore = (await Health(server)).GetProperty("steps").GetInt64();
            // No draining of the unread response on disposal (HttpClient would otherwise read it to reuse the
            // connection): disposing closes the connection, as a client that goes away does.
            using var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = new Uri(server.BaseUrl) };
            var req = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(Endless, Encoding.UTF8, "application/json") };
            var resp = await client.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
            var reader = new StreamReader(await resp.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: ", await reader.ReadLineAsync());

            // The client goes away mid-answer: the generation stops well before its 250 tokens and the slot comes back.
            reader.Dispose();
            resp.Dispose();
            client.Dispose();
            await WaitIdle(server);
            long steps = (await Health(server)).GetProperty("steps").GetInt64() - stepsBefore;
            Assert.True(steps < 240, $"{steps} steps: the disconnected generation was not stopped");
        }
        using var ok = await server.PostAsync("/v1/completions", """{"prompt": "And God said", "max_tokens": 3}""");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task ApiKeyIsRequiredWhenSet()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { ApiKey = "s3cret" });
        const string body = """{"prompt": "And", "max_tokens": 2}""";
        using (var r = await server.PostAsync("/v1/completions", body)) Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        using (var r = await server.PostAsync("/v1/completions", body, apiKey: "wrong")) Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        using (var r = await server.Http.GetAsync("/v1/models")) Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        using (var r = await server.PostAsync("/v1/completions", body, apiKey: "s3cret")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await server.Http.GetAsync("/health")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
    }

    [Theory]
    [InlineData("/v1/completions", "{", 400)]
    [InlineData("/v1/completions", "", 400)]
    [InlineData("/v1/completions", "null", 400)]
    [InlineData("/v1/completions", "[1, 2]", 400)]
    [InlineData("/v1/completions", """{"prompt": 5}""", 400)]
    [InlineData("/v1/completions", """{"prompt": []}""", 400)]
    [InlineData("/v1/completions", """{"prompt": [1, 99999]}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "max_tokens": "ten"}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "max_tokens": 0}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "max_tokens": 1000000000}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "max_tokens": 1e40}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "n": 0}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "n": 99}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "logprobs": true}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "logprobs": 21}""", 400)]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2}""", 400)]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "x"}], "logprobs": true, "top_logprobs": 21}""", 400)]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "x"}], "logprobs": 3}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "temperature": -1}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "top_p": 0}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "stop": [1]}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "stop": [""]}""", 400)]
    [InlineData("/v1/completions", """{"prompt": "x", "stream": "yes"}""", 400)]
    [InlineData("/v1/chat/completions", """{"messages": []}""", 400)]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "tool", "content": "x"}]}""", 400)]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "assistant", "content": "x"}]}""", 400)]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": 7}]}""", 400)]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}""", 400)]
    [InlineData("/v1/chat/completions", """{"messages": "hello"}""", 400)]
    [InlineData("/v1/chat/completions", """{"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "retrieval"}]}""", 400)]
    [InlineData("/tokenize", """{"content": 3}""", 400)]
    [InlineData("/detokenize", """{"tokens": [-1]}""", 400)]
    [InlineData("/v1/nothing", "{}", 404)]
    public async Task BadRequestsGetTheirStatusAndAnErrorBody(string path, string body, int status)
    {
        await using var server = await TestServer.StartAsync();
        using var resp = await server.PostAsync(path, body);
        Assert.Equal(status, (int)resp.StatusCode);
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("error").GetProperty("message").GetString()));
        Assert.Equal("ok", (await Health(server)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task WrongMethodGets405WithAnErrorBody()
    {
        await using var server = await TestServer.StartAsync();
        using var resp = await server.Http.GetAsync("/v1/chat/completions");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, resp.StatusCode);
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("error").GetProperty("message").GetString()));
    }

    [Theory]
    [InlineData("--port", "x")]
    [InlineData("--parallel", "0")]
    [InlineData("--kv-type", "q4")]
    [InlineData("--bogus", "1")]
    [InlineData("--api-key", "")]
    public void BadCommandLinesAreRefused(string name, string value) =>
        Assert.Throws<ArgumentException>(() => ServerOptions.Parse([name, value]));

    [Fact]
    public async Task F16CacheAndWindowOptionsServe()
    {
        await using var server = await TestServer.StartAsync(ServerOptions.Parse(["--kv-type", "f16", "--window", "64", "--parallel", "2"]));
        using var resp = await server.PostAsync("/v1/completions", """{"prompt": "And God said", "max_tokens": 4}""");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
    }

    [Fact]
    public async Task PromptsLongerThanTheContextAreRefused()
    {
        await using var server = await TestServer.StartAsync();
        string longPrompt = string.Join(' ', Enumerable.Repeat("begat", 400));
        using var resp = await server.PostAsync("/v1/completions", JsonSerializer.Serialize(new { prompt = longPrompt, max_tokens = 4 }));
        Assert.Equal(400, (int)resp.StatusCode);
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        Assert.Equal("context_length_exceeded", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task TokenizeDetokenizeAndModels()
    {
        await using var server = await TestServer.StartAsync();
        using var model = TestServer.LoadModel();
        using var tok = await server.PostAsync("/tokenize", """{"content": "And God said", "add_special": true}""");
        using var tdoc = JsonDocument.Parse(await tok.Content.ReadAsStringAsync());
        var ids = tdoc.RootElement.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(model.Tokenizer.Encode("And God said"), ids);
        using var de = await server.PostAsync("/detokenize", JsonSerializer.Serialize(new { tokens = ids }));
        using var ddoc = JsonDocument.Parse(await de.Content.ReadAsStringAsync());
        Assert.Equal(model.Tokenizer.Decode(ids), ddoc.RootElement.GetProperty("content").GetString());
        using var models = JsonDocument.Parse(await server.Http.GetStringAsync("/v1/models"));
        Assert.Equal("kjv-tiny-Q8_0", models.RootElement.GetProperty("data")[0].GetProperty("id").GetString());
    }
}
