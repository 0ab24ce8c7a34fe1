using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Eurus.Server.Tests;

/// <summary>Configuration sources, the browser guard, health probes and graceful shutdown.</summary>
public class OperationsTests
{
    private static ServerOptions Load(string[] args, Dictionary<string, string?>? env = null, string? json = null)
    {
        using var dir = new TempFolder();
        string? file = null;
        if (json is not null) File.WriteAllText(file = Path.Combine(dir.Path, "appsettings.json"), json);
        return ServerConfiguration.Load(args, ServerConfiguration.Build(env ?? [], file is null ? [] : [file]));
    }

    [Fact]
    public void OptionsComeFromJsonThenEnvironmentThenCommandLine()
    {
        const string json = """{"Eurus": {"Parallel": 3, "Queue": 7, "ContextLength": 512, "KvCacheType": "f32", "RequestTimeout": "00:01:00", "AllowedOrigins": ["https://a.example"]}}""";
        var o = Load([], json: json);
        Assert.Equal((3, 7, 512, Eurus.Cpu.Model.KvCacheType.F32, TimeSpan.FromMinutes(1)), (o.Parallel, o.Queue, o.ContextLength, o.KvCacheType, o.RequestTimeout));
        Assert.Equal(["https://a.example"], o.AllowedOrigins);
        // The environment over the file, the command line over both.
        var env = new Dictionary<string, string?> { ["Eurus__Parallel"] = "5", ["Eurus__Queue"] = "9" };
        o = Load(["--queue", "11"], env, json);
        Assert.Equal((5, 11, 512), (o.Parallel, o.Queue, o.ContextLength));
        // Defaults when nothing is configured; the old flags still work.
        o = Load(["-np", "2", "-c", "128", "--port", "9001"]);
        Assert.Equal((2, 128, 9001, "127.0.0.1", (string?)null), (o.Parallel, o.ContextLength, o.Port, o.Host, o.Urls));
        // A misspelt key is an error, not silently ignored.
        Assert.Throws<ArgumentException>(() => Load([], json: """{"Eurus": {"Paralel": 3}}"""));
        Assert.Throws<ArgumentException>(() => Load([], json: """{"Eurus": {"Parallel": "many"}}"""));
    }

    [Fact]
    public void AspNetCoreUrlsAreHonouredAndHostOrPortOnTheCommandLineWin()
    {
        var env = new Dictionary<string, string?> { ["ASPNETCORE_URLS"] = "http://0.0.0.0:9000" };
        Assert.Equal("http://0.0.0.0:9000", Load([], env).Urls);
        Assert.Equal(["http://0.0.0.0:9000"], ServerConfiguration.Addresses(Load([], env)));
        Assert.False(ServerConfiguration.LoopbackOnly(Load([], env)));
        Assert.Null(Load(["--port", "9100"], env).Urls);
        Assert.Equal("http://127.0.0.1:7000", Load(["--urls", "http://127.0.0.1:7000"], env).Urls);
        Assert.Equal("http://*:8080", Load([], new() { ["ASPNETCORE_HTTP_PORTS"] = "8080" }).Urls);
        Assert.Throws<ArgumentException>(() => Load(["--urls", "http://127.0.0.1:1", "--port", "2"]));

        // Beyond loopback without a key: a warning; with a key, or on loopback: none.
        Assert.Single(EurusServer.StartupWarnings(Load(["--host", "0.0.0.0"])));
        Assert.Single(EurusServer.StartupWarnings(Load([], env)));
        Assert.Empty(EurusServer.StartupWarnings(Load(["--host", "0.0.0.0", "--api-key", "k"])));
        Assert.Empty(EurusServer.StartupWarnings(Load(["--host", "::1"])));
        Assert.Empty(EurusServer.StartupWarnings(Load(["--urls", "http://localhost:5000;http://[::1]:5001"])));
    }

    [Fact]
    public void TheApiKeyComesFromAFileOrTheEnvironment()
    {
        using var dir = new TempFolder();
        string file = Path.Combine(dir.Path, "key");
        File.WriteAllText(file, "  s3cret \nignored\n");
        Assert.Equal("s3cret", Load(["--api-key-file", file]).ApiKey);
        Assert.Equal("s3cret", Load([], new() { ["Eurus__ApiKeyFile"] = file }).ApiKey);
        Assert.Equal("e", Load([], new() { ["Eurus__ApiKey"] = "e" }).ApiKey);
        File.WriteAllText(file, "\n");
        Assert.Contains("no key", Assert.Throws<ArgumentException>(() => Load(["--api-key-file", file])).Message);
        Assert.Contains("cannot read", Assert.Throws<ArgumentException>(() => Load(["--api-key-file", file + ".missing"])).Message);
        Assert.Throws<ArgumentException>(() => Load(["--api-key-file", file, "--api-key", "x"]));
    }

    [Fact]
    public async Task AServerStartsOnTheUrlsItIsGiven()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { Urls = "http://127.0.0.1:0" });
        Assert.StartsWith("http://127.0.0.1:", server.BaseUrl);
        using var resp = await server.PostAsync("/v1/completions", """{"prompt": "And", "max_tokens": 2}""");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
    }

    [Fact]
    public async Task WebPagesCannotDriveTheServer()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { AllowedOrigins = ["http://localhost:3000"] });
        const string body = """{"prompt": "And", "max_tokens": 2}""";
        async Task<(int Status, string? Code)> Send(string contentType, string? origin = null, string? host = null, string path = "/v1/completions")
        {
            var req = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8) };
            req.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
            if (origin is not null) req.Headers.Add("Origin", origin);
            if (host is not null) req.Headers.Host = host;
            using var resp = await server.Http.SendAsync(req);
            string text = await resp.Content.ReadAsStringAsync();
            if (resp.StatusCode == HttpStatusCode.OK) return (200, null);
            using var doc = JsonDocument.Parse(text);
            return ((int)resp.StatusCode, doc.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        // What a page can send without a CORS preflight: form and text bodies.
        Assert.Equal((415, "unsupported_media_type"), await Send("text/plain"));
        Assert.Equal((415, "unsupported_media_type"), await Send("application/x-www-form-urlencoded"));
        Assert.Equal((415, "unsupported_media_type"), await Send("multipart/form-data; boundary=x"));
        Assert.Equal((415, "unsupported_media_type"), await Send("text/plain", path: "/tokenize"));
        // A foreign origin, even with a JSON body.
        Assert.Equal((403, "origin_not_allowed"), await Send("application/json", origin: "https://evil.example"));
        Assert.Equal((403, "origin_not_allowed"), await Send("application/json", origin: "null"));
        // DNS rebinding: a foreign name for the loopback address.
        Assert.Equal((421, "host_not_allowed"), await Send("application/json", host: "evil.example"));
        // What is allowed: JSON (with a charset), an allowed origin, loopback names.
        Assert.Equal((200, null), await Send("application/json; charset=utf-8"));
        Assert.Equal((200, null), await Send("application/json", origin: "http://localhost:3000"));
        Assert.Equal((200, null), await Send("application/json", host: "localhost:1234"));
        // Health probes answer whatever name a probe uses.
        var probe = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        probe.Headers.Host = "eurus.internal";
        using (var r = await server.Http.SendAsync(probe)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
    }

    [Fact]
    public async Task LivenessAndReadinessAreSeparate()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { Parallel = 1, Queue = 0 });
        using (var r = await server.Http.GetAsync("/health/live")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        using (var r = await server.Http.GetAsync("/health/ready")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        // The one slot busy and no waiting room: not ready (send traffic elsewhere), still alive.
        var req = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent("""{"prompt": "And God said", "stream": true, "ignore_eos": true, "max_tokens": 250}""", Encoding.UTF8, "application/json"),
        };
        using var resp = await server.Http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await resp.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync());
        using (var r = await server.Http.GetAsync("/health/ready"))
        {
            string body = await r.Content.ReadAsStringAsync();
            // The stream may have ended meanwhile on a fast machine; then the slot is free again.
            if (r.StatusCode != HttpStatusCode.OK) Assert.Contains("queue_full", body);
        }
        using (var r = await server.Http.GetAsync("/health/live")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        await reader.ReadToEndAsync();
    }

    [Fact]
    public async Task ShutdownLetsRunningRequestsEndCleanlyWithinTheTimeout()
    {
        // One slot, 12 long requests queued behind it (2,880 tokens): they cannot all finish within the 1 s timeout.
        var server = await TestServer.StartAsync(new ServerOptions { Parallel = 1, ShutdownTimeout = TimeSpan.FromSeconds(1) });
        const string body = """{"prompt": "And God said", "stream": true, "ignore_eos": true, "max_tokens": 240, "seed": 1}""";
        var sends = Enumerable.Range(0, 12).Select(_ => server.Http.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") },
            HttpCompletionOption.ResponseHeadersRead)).ToList();
        // Stop once all are submitted (one running, the rest waiting), before their headers came (a stream's headers
        // leave with its first token).
        for (int i = 0; i < 400; i++)
        {
            using var h = JsonDocument.Parse(await server.Http.GetStringAsync("/health"));
            if (h.RootElement.GetProperty("slots_processing").GetInt32() + h.RootElement.GetProperty("requests_queued").GetInt32() == 12) break;
            await Task.Delay(10);
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var stop = server.App.StopAsync();
        var streams = new List<(HttpResponseMessage Resp, StreamReader Reader)>();
        foreach (var send in sends)
        {
            var resp = await send;
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
            streams.Add((resp, new StreamReader(await resp.Content.ReadAsStreamAsync())));
        }
        var texts = await Task.WhenAll(streams.Select(s => s.Reader.ReadToEndAsync()));
        await stop;
        var stopped = clock.Elapsed;
        // Every stream ends with [DONE]; the ones cut by the deadline say so.
        Assert.All(texts, t => Assert.EndsWith("data: [DONE]\n\n", t));
        Assert.Contains(texts, t => t.Contains("\"server_shutdown\""));
        Assert.True(stopped < TimeSpan.FromSeconds(30), $"stopping took {stopped}");
        foreach (var (resp, reader) in streams) { reader.Dispose(); resp.Dispose(); }
        await server.DisposeAsync();
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("eurus-ops-").FullName;
        public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
    }
}
