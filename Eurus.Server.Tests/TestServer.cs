using System.Text;
using System.Text.Json;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Eurus.Server.Tests;

/// <summary>The real server (Kestrel) on a free loopback port, with the demo model.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    public static string ModelPath => Path.Combine(AppContext.BaseDirectory, "models", "kjv-tiny-Q8_0.gguf");

    private readonly WebApplication _app;

    private TestServer(WebApplication app, string url)
    {
        _app = app;
        BaseUrl = url;
        Http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
    }

    public string BaseUrl { get; }
    public WebApplication App => _app;
    public HttpClient Http { get; }

    /// <param name="transport">Changes to Kestrel's and its socket transport's options before they start (the server sets its own first).</param>
    /// <param name="modelPath">Another model than the demo model (e.g. <see cref="LongContextModel.Path"/>).</param>
    /// <param name="contextLength">The server's context length (<c>--ctx-size</c>).</param>
    public static async Task<TestServer> StartAsync(ServerOptions? options = null, Action<KestrelServerOptions, SocketTransportOptions>? transport = null,
        string? modelPath = null, int contextLength = 256)
    {
        options ??= new ServerOptions();
        var app = EurusServer.Build(options with { ModelPath = modelPath ?? ModelPath, Port = 0, Threads = 2, ContextLength = contextLength });
        transport?.Invoke(app.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value,
            app.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value);
        await app.StartAsync();
        string url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Assert.StartsWith(options.Urls is null ? "http://127.0.0.1:" : "http://", url);
        return new TestServer(app, url);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json, string? apiKey = null)
    {
        var req = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (apiKey is not null) req.Headers.Authorization = new("Bearer", apiKey);
        return Http.SendAsync(req);
    }

    /// <summary>POSTs a streaming request and returns the "data:" payloads until [DONE] (which must come last).</summary>
    public async Task<List<string>> StreamAsync(string path, string json)
    {
        var req = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        using var resp = await Http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)resp.StatusCode);
        Assert.Equal("text/event-stream", resp.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await resp.Content.ReadAsStreamAsync());
        var events = new List<string>();
        string? line;
        bool done = false;
        while ((line = await reader.ReadLineAsync()) is not null)
        {
            if (line.Length == 0) continue;
            Assert.StartsWith("data: ", line);
            Assert.False(done, "nothing may follow [DONE]");
            string data = line["data: ".Length..];
            if (data == "[DONE]") done = true;
            else events.Add(data);
        }
        Assert.True(done, "the stream must end with data: [DONE]");
        return events;
    }

    /// <summary>The concatenated text of streamed chunks (chat deltas or completion texts).</summary>
    public static string StreamText(IEnumerable<string> events) => string.Concat(events.Select(e =>
    {
        using var doc = JsonDocument.Parse(e);
        var choices = doc.RootElement.GetProperty("choices");
        if (choices.GetArrayLength() == 0) return "";
        var c = choices[0];
        if (c.TryGetProperty("text", out var t)) return t.GetString();
        return c.GetProperty("delta").TryGetProperty("content", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : "";
    }));

    /// <summary>What the library itself generates for <paramref name="prompt"/> with <paramref name="settings"/>.</summary>
    public static async Task<string> LibraryText(EurusModel model, IReadOnlyList<int> prompt, SamplingSettings settings)
    {
        using var session = model.CreateSession();
        var sb = new StringBuilder();
        await foreach (var t in session.GenerateTokensAsync(prompt, settings)) sb.Append(t.Text);
        return sb.ToString();
    }

    public static EurusModel LoadModel() => EurusModel.Load(ModelPath, new ModelOptions { Threads = 1, ContextLength = 256 });
}
