using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Sampling;
using Microsoft.Extensions.AI;

namespace Eurus.Server.Tests;

/// <summary>Request caps, linear message merging, the wall-clock limit, slow readers and startup failures.</summary>
public class LimitTests
{
    private static async Task<JsonElement> Health(TestServer server)
    {
        using var doc = JsonDocument.Parse(await server.Http.GetStringAsync("/health"));
        return doc.RootElement.Clone();
    }

    private static async Task WaitIdle(TestServer server, int seconds = 10)
    {
        for (int i = 0; i < seconds * 40; i++)
        {
            var h = await Health(server);
            if (h.GetProperty("slots_processing").GetInt32() == 0 && h.GetProperty("requests_queued").GetInt32() == 0) return;
            await Task.Delay(25);
        }
        Assert.Fail("The server's slots were not freed: " + (await Health(server)).ToString());
    }

    /// <summary>Asserts the status and an OpenAI-style error whose message contains each of <paramref name="mentions"/>.</summary>
    private static async Task AssertRefused(HttpResponseMessage resp, int status, string what, params string[] mentions)
    {
        string body = await resp.Content.ReadAsStringAsync();
        Assert.True(status == (int)resp.StatusCode, $"{what}: status {(int)resp.StatusCode}, body {body[..Math.Min(body.Length, 300)]}");
        using var doc = JsonDocument.Parse(body);
        string message = doc.RootElement.GetProperty("error").GetProperty("message").GetString()!;
        foreach (var m in mentions) Assert.True(message.Contains(m, StringComparison.Ordinal), $"{what}: '{message}' does not mention '{m}'");
    }

    private static string Messages(int count, Func<int, string> content) =>
        JsonSerializer.Serialize(Enumerable.Range(0, count).Select(i => new { role = "user", content = content(i) }));

    private static string LogitBias(int entries) => JsonSerializer.Serialize(Enumerable.Range(0, entries).ToDictionary(i => i.ToString(), _ => 1));

    [Fact]
    public async Task RequestsOverTheDefaultCapsGetAnErrorNamingTheLimit()
    {
        await using var server = await TestServer.StartAsync();
        string stops(int n, int length) => JsonSerializer.Serialize(Enumerable.Range(0, n).Select(i => new string((char)('a' + i % 26), length)));
        // "é" is two UTF-8 bytes: 524,289 of them are over 1 MiB although they are half as many characters.
        string overMiB = new('é', (1 << 19) + 1);
        string halfMiB = new('x', (1 << 19) + 8);
        var refused = new (string Path, string Body, string[] Mentions)[]
        {
            ("/v1/chat/completions", $$"""{"messages": {{Messages(1025, _ => "x")}}, "max_tokens": 1}""", ["1025", "1024", "--max-messages"]),
            ("/v1/completions", $$"""{"prompt": "And", "max_tokens": 1, "stop": {{stops(17, 3)}}}""", ["17", "16", "--max-stop"]),
            ("/v1/chat/completions", $$"""{"messages": [{"role": "user", "content": "x"}], "max_tokens": 1, "stop": {{stops(1, 257)}}}""", ["257", "256", "--max-stop-length"]),
            ("/v1/completions", $$"""{"prompt": "And", "max_tokens": 1, "stop": "{{new string('z', 257)}}"}""", ["256", "--max-stop-length"]),
            ("/v1/completions", $$"""{"prompt": "And", "max_tokens": 1, "logit_bias": {{LogitBias(1025)}}}""", ["1025", "1024", "--max-logit-bias"]),
            ("/v1/completions", JsonSerializer.Serialize(new { prompt = overMiB, max_tokens = 1 }), ["1048576", "--max-prompt-bytes"]),
            ("/v1/completions", JsonSerializer.Serialize(new { prompt = new[] { overMiB }, max_tokens = 1 }), ["1048576", "--max-prompt-bytes"]),
            // Two messages under the limit each, over it together.
            ("/v1/chat/completions", $$"""{"messages": {{Messages(2, _ => halfMiB)}}, "max_tokens": 1}""", ["1048576", "--max-prompt-bytes"]),
            ("/tokenize", JsonSerializer.Serialize(new { content = overMiB }), ["1048576", "--max-prompt-bytes"]),
            ("/v1/completions", """{"prompt": "And", "n": 5}""", ["5", "4", "--parallel"]),
            ("/v1/completions", """{"prompt": "And", "max_tokens": 257}""", ["257", "256"]),
        };
        foreach (var (path, body, mentions) in refused)
        {
            using var resp = await server.PostAsync(path, body);
            await AssertRefused(resp, 400, $"{path} {body[..Math.Min(body.Length, 80)]}", mentions);
        }

        // At the limits the caps let requests through.
        string atLimits = $$"""{"prompt": "And", "max_tokens": 2, "stop": {{stops(16, 256)}}, "logit_bias": {{LogitBias(1024)}}}""";
        using (var ok = await server.PostAsync("/v1/completions", atLimits)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var ok = await server.PostAsync("/tokenize", JsonSerializer.Serialize(new { content = new string('é', 1 << 19) }))) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        // 1024 messages are allowed; these are too long for the 256-token context, which is another error.
        using (var resp = await server.PostAsync("/v1/chat/completions", $$"""{"messages": {{Messages(1024, _ => "x")}}, "max_tokens": 1}"""))
        {
            Assert.Equal(400, (int)resp.StatusCode);
            using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
            Assert.Equal("context_length_exceeded", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        Assert.Equal("ok", (await Health(server)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task CapsComeFromTheCommandLine()
    {
        var options = ServerOptions.Parse(["--max-messages", "3", "--max-prompt-bytes", "100", "--max-stop", "2", "--max-stop-length", "4",
            "--max-logit-bias", "2", "--max-body-bytes", "2048", "--request-timeout", "0"]);
        Assert.Equal(TimeSpan.Zero, options.RequestTimeout);
        Assert.Equal(TimeSpan.FromMinutes(10), new ServerOptions().RequestTimeout);
        await using var server = await TestServer.StartAsync(options);

        async Task Ok(string path, string body)
        {
            using var resp = await server.PostAsync(path, body);
            Assert.True(resp.StatusCode == HttpStatusCode.OK, $"{body}: {(int)resp.StatusCode} {await resp.Content.ReadAsStringAsync()}");
        }
        async Task Refused(string path, string body, int status, params string[] mentions)
        {
            using var resp = await server.PostAsync(path, body);
            await AssertRefused(resp, status, body[..Math.Min(body.Length, 80)], mentions);
        }

        await Ok("/v1/chat/completions", $$"""{"messages": {{Messages(3, _ => "Hi")}}, "max_tokens": 1}""");
        await Refused("/v1/chat/completions", $$"""{"messages": {{Messages(4, _ => "Hi")}}, "max_tokens": 1}""", 400, "4", "3", "--max-messages");
        await Ok("/v1/completions", JsonSerializer.Serialize(new { prompt = new string('a', 100), max_tokens = 1 }));
        await Refused("/v1/completions", JsonSerializer.Serialize(new { prompt = new string('a', 101), max_tokens = 1 }), 400, "100", "--max-prompt-bytes");
        await Refused("/v1/chat/completions", $$"""{"messages": {{Messages(3, _ => new string('a', 34))}}, "max_tokens": 1}""", 400, "100", "--max-prompt-bytes");
        await Ok("/v1/completions", """{"prompt": "And", "max_tokens": 1, "stop": ["abcd", "efgh"], "logit_bias": {"5": -100, "6": 100}}""");
        await Refused("/v1/completions", """{"prompt": "And", "max_tokens": 1, "stop": ["a", "b", "c"]}""", 400, "3", "2", "--max-stop");
        await Refused("/v1/completions", """{"prompt": "And", "max_tokens": 1, "stop": "abcde"}""", 400, "5", "4", "--max-stop-length");
        await Refused("/v1/completions", """{"prompt": "And", "max_tokens": 1, "logit_bias": {"1": 1, "2": 2, "3": 3}}""", 400, "3", "2", "--max-logit-bias");
        await Refused("/v1/completions", """{"prompt": "And", "max_tokens": 1, "logit_bias": {"99999": 1}}""", 400, "99999");
        await Refused("/v1/completions", """{"prompt": "And", "max_tokens": 1, "logit_bias": {"5": 101}}""", 400, "-100 to 100");
        await Refused("/v1/completions", """{"prompt": "And", "max_tokens": 1, "logit_bias": [1]}""", 400, "logit_bias");
        // The body limit is Kestrel's: 413, with the limit named.
        await Refused("/v1/completions", JsonSerializer.Serialize(new { prompt = "And", max_tokens = 1, user = new string('u', 3000) }), 413, "2048", "--max-body-bytes");
        Assert.Equal("ok", (await Health(server)).GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("--max-messages", "0", "1")]
    [InlineData("--max-prompt-bytes", "0", "1")]
    [InlineData("--max-stop", "-1", "0")]
    [InlineData("--max-stop-length", "0", "1")]
    [InlineData("--max-logit-bias", "-1", "0")]
    [InlineData("--max-body-bytes", "10", "1024")]
    [InlineData("--request-timeout", "-1", "0")]
    [InlineData("--request-timeout", "1.5", "2")]
    public void LimitOptionsAreChecked(string name, string bad, string good)
    {
        Assert.Throws<ArgumentException>(() => ServerOptions.Parse([name, bad]));
        ServerOptions.Parse([name, good]);
    }

    [Fact]
    public async Task ManySameRoleMessagesAreMergedInLinearTime()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { MaxMessages = 1_000_000, MaxPromptBytes = 64 << 20, MaxBodyBytes = 64 << 20 });
        // 20,000 user messages of 40 characters (800 kB of text) in a row. Joined two at a time, the run is copied
        // again for each message: ~8 GB of strings allocated and copied. In one pass it is the text a few times over.
        // The merged prompt is far over the 256-token context. Allocation is counted for the whole process (other
        // tests may run beside this one), and time is bounded loosely (this shared machine's speed varies ~10x).
        string body = $$"""{"messages": {{Messages(20_000, i => $"{i,6} and the LORD spake unto Moses saying")}}, "max_tokens": 1}""";
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        using var resp = await server.PostAsync("/v1/chat/completions", body);
        clock.Stop();
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        Assert.Equal("context_length_exceeded", doc.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.True(allocated < 1L << 30, $"{allocated >> 20} MiB allocated for 20,000 messages");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{clock.Elapsed.TotalSeconds:F1} s for 20,000 messages");
        Console.WriteLine($"20,000 messages: {clock.Elapsed.TotalSeconds:F2} s, {allocated >> 20} MiB allocated");
    }

    [Fact]
    public async Task MergedMessagesGiveTheLibrarysPrompt()
    {
        await using var server = await TestServer.StartAsync();
        using var model = TestServer.LoadModel();
        var conversation = new (string Role, string Text)[]
        {
            ("system", "Be brief."), ("developer", "Speak as a prophet."), ("user", "Who made"), ("user", "the heaven?"),
            ("assistant", "God"), ("assistant", "made it."), ("user", "And the earth?"), ("user", "Say it"), ("user", "again."),
        };
        var prompt = EurusChatClient.EncodePrompt(model.Tokenizer, conversation.Select(m =>
            new ChatMessage(m.Role switch { "user" => ChatRole.User, "assistant" => ChatRole.Assistant, _ => ChatRole.System }, m.Text)).ToList());
        string expected = await TestServer.LibraryText(model, prompt, new SamplingSettings { Seed = 5, MaxTokens = 12 });
        string messages = JsonSerializer.Serialize(conversation.Select(m => new { role = m.Role, content = m.Text }));
        using var resp = await server.PostAsync("/v1/chat/completions", $$"""{"messages": {{messages}}, "seed": 5, "max_tokens": 12}""");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        Assert.Equal(prompt.Count, doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected, doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task TheWallClockLimitEndsAnswersWithAFinishReason()
    {
        // One slot, 16 requests of 250 tokens each, decoded one after another. The limit is twice what one answer takes
        // the library here (timed warm; at most 1 s, at least 0.25 s), so at most a few answers end within it: the
        // request in the slot at that moment is cut short and the queued ones end with what they have (nothing). A fixed
        // 1 s had assumed ~500 t/s; a faster engine finished 12 of the 16 answers inside it.
        using var model = TestServer.LoadModel();
        const int max = 250;
        var settings = new SamplingSettings { Seed = 3, MaxTokens = max, StopAtEos = false };
        string full = await TestServer.LibraryText(model, model.Tokenizer.Encode("And God said"), settings);
        var one = Stopwatch.StartNew();
        Assert.Equal(full, await TestServer.LibraryText(model, model.Tokenizer.Encode("And God said"), settings));
        var limit = TimeSpan.FromSeconds(Math.Clamp(2 * one.Elapsed.TotalSeconds, 0.25, 1));
        await using var server = await TestServer.StartAsync(new ServerOptions { Parallel = 1, Queue = 16, RequestTimeout = limit });
        const string request = """{"prompt": "And God said", "seed": 3, "ignore_eos": true, "max_tokens": 250""";

        var clock = Stopwatch.StartNew();
        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(async i =>
        {
            if (i % 2 == 0)
            {
                // Streamed: StreamAsync checks the stream ends with data: [DONE].
                var events = await server.StreamAsync("/v1/completions", request + """, "stream": true, "stream_options": {"include_usage": true}}""");
                using var usage = JsonDocument.Parse(events[^1]);
                using var last = JsonDocument.Parse(events[^2]);
                return (Text: TestServer.StreamText(events), Tokens: usage.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32(),
                    Finish: last.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString(),
                    Warning: last.RootElement.TryGetProperty("warning", out var w) ? w.Clone() : (JsonElement?)null, Elapsed: clock.Elapsed);
            }
            using var resp = await server.PostAsync("/v1/completions", request + "}");
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
            using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
            var root = doc.RootElement;
            var choice = root.GetProperty("choices")[0];
            return (Text: choice.GetProperty("text").GetString(), Tokens: root.GetProperty("usage").GetProperty("completion_tokens").GetInt32(),
                Finish: choice.GetProperty("finish_reason").GetString(),
                Warning: root.TryGetProperty("warning", out var rw) ? rw.Clone() : (JsonElement?)null, Elapsed: clock.Elapsed);
        }));

        var cut = answers.Where(a => a.Warning is not null).ToArray();
        Assert.True(cut.Length >= 8, $"{cut.Length} of 16 answers were cut by the time limit");
        foreach (var a in answers)
        {
            Assert.Equal("length", a.Finish);
            Assert.StartsWith(a.Text!, full);
            Assert.True(a.Elapsed < limit + TimeSpan.FromSeconds(5), $"an answer ended after {a.Elapsed.TotalSeconds:F1} s");
        }
        foreach (var a in answers.Where(a => a.Warning is null)) Assert.Equal(max, a.Tokens);
        foreach (var a in cut)
        {
            Assert.True(a.Tokens < max);
            Assert.Equal("request_timeout", a.Warning!.Value.GetProperty("code").GetString());
            Assert.Contains("--request-timeout", a.Warning.Value.GetProperty("message").GetString());
        }
        await WaitIdle(server);
        Assert.True((await Health(server)).GetProperty("step_tokens").GetInt64() < 16 * max, "the queued requests were decoded");
    }

    /// <summary>
    /// Starts a server whose buffers for one response are small: 1 KiB in Kestrel, 1 KiB in its socket transport and
    /// the kernel's minimum for the socket (SO_SNDBUF 4 KiB), so an answer that is not read backs up into its request
    /// handler after a few kilobytes. Kestrel's minimum response data rate is off: what is tested is the server's own.
    /// </summary>
    private static Task<TestServer> StartWithSmallBuffers(ServerOptions options) => TestServer.StartAsync(options, (kestrel, sockets) =>
    {
        kestrel.Limits.MaxResponseBufferSize = 1024;
        kestrel.Limits.MinResponseDataRate = null;
        sockets.MaxWriteBufferSize = 1024;
        sockets.CreateBoundListenSocket = endpoint =>
        {
            var listener = SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
            listener.SendBufferSize = 4096; // accepted sockets inherit it
            return listener;
        };
    });

    /// <summary>Buffers on both sides of a stalled response together, well over what <see cref="StartWithSmallBuffers"/> allows.</summary>
    private const int StallBytes = 24 * 1024;

    /// <summary>Sends a streaming chat request over a raw socket with a 1 KiB receive buffer, and reads nothing.</summary>
    private static async Task<Socket> SendAndStopReading(TestServer server, string body)
    {
        var uri = new Uri(server.BaseUrl);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 1024 };
        await socket.ConnectAsync(IPAddress.Loopback, uri.Port);
        await socket.SendAsync(Encoding.UTF8.GetBytes(
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}"));
        return socket;
    }

    /// <summary>Reads until the chunked response ends, the server closes the connection, or 10 s pass without data.</summary>
    private static (byte[] Data, bool Complete, bool Closed) ReadResponse(Socket socket)
    {
        var raw = new MemoryStream();
        var buffer = new byte[8192];
        socket.ReceiveTimeout = 10_000;
        while (true)
        {
            int n;
            try { n = socket.Receive(buffer); }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { return (raw.ToArray(), false, true); }
            if (n == 0) return (raw.ToArray(), false, true);
            raw.Write(buffer, 0, n);
            if (raw.Length >= 5 && raw.GetBuffer().AsSpan((int)raw.Length - 5, 5).SequenceEqual("0\r\n\r\n"u8)) return (raw.ToArray(), true, false);
        }
    }

    [Fact]
    public async Task AClientThatStopsReadingDoesNotStallOthers()
    {
        await using var server = await StartWithSmallBuffers(new ServerOptions { Parallel = 2 });
        using var model = TestServer.LoadModel();
        const string stalledBody = """{"messages": [{"role": "user", "content": "Who made the heaven?"}], "stream": true, "seed": 9, "ignore_eos": true, "max_tokens": 240}""";
        using var stalled = await SendAndStopReading(server, stalledBody);
        for (int i = 0; i < 500 && (await Health(server)).GetProperty("slots_processing").GetInt32() == 0; i++) await Task.Delay(10);

        // Another request is answered while the first client reads nothing (no timing bound: this machine's speed
        // varies; a decode thread waiting for the stalled client would never answer it).
        var clock = Stopwatch.StartNew();
        using (var resp = await server.PostAsync("/v1/completions", """{"prompt": "In the beginning", "seed": 4, "ignore_eos": true, "max_tokens": 32}"""))
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        var other = clock.Elapsed;
        // The unread generation runs to its end and frees its slot.
        await WaitIdle(server, seconds: 60);
        var stalledGeneration = clock.Elapsed;

        // Read late, the whole answer is there, equal to the library's: nothing was dropped or cut.
        var (data, complete, _) = ReadResponse(stalled);
        Assert.True(complete, "the stalled response did not end");
        var events = ServerSentEvents(data);
        Assert.Equal("[DONE]", events[^1]);
        var prompt = EurusChatClient.EncodePrompt(model.Tokenizer, [new ChatMessage(ChatRole.User, "Who made the heaven?")]);
        string expected = await TestServer.LibraryText(model, prompt, new SamplingSettings { Seed = 9, MaxTokens = 240, StopAtEos = false });
        Assert.Equal(expected, TestServer.StreamText(events[..^1]));
        Assert.True(data.Length > StallBytes, $"the answer ({data.Length} bytes) must be larger than the buffers it had to fill");
        Console.WriteLine($"other request {other.TotalSeconds:F2} s, unread generation done after {stalledGeneration.TotalSeconds:F2} s");
    }

    [Fact]
    public async Task AClientThatStopsReadingIsDisconnectedAfterTheTimeLimit()
    {
        // The limit must leave time for enough tokens to fill the buffers (~60), at this machine's speed of the moment:
        // about 60% of the time 240 tokens take alone.
        using var model = TestServer.LoadModel();
        var calibration = Stopwatch.StartNew();
        var prompt = EurusChatClient.EncodePrompt(model.Tokenizer, [new ChatMessage(ChatRole.User, "Who made the heaven?")]);
        await TestServer.LibraryText(model, prompt, new SamplingSettings { Seed = 9, MaxTokens = 240, StopAtEos = false });
        var limit = TimeSpan.FromSeconds(Math.Clamp(calibration.Elapsed.TotalSeconds * 0.6, 1, 20));

        await using var server = await StartWithSmallBuffers(new ServerOptions { Parallel = 1, RequestTimeout = limit });
        var sent = Stopwatch.StartNew();
        using var stalled = await SendAndStopReading(server,
            """{"messages": [{"role": "user", "content": "Who made the heaven?"}], "stream": true, "seed": 9, "ignore_eos": true, "max_tokens": 240}""");
        // The limit cuts the generation (or it ends), and a grace period later (here the limit again) the connection is
        // closed: what the client then reads (what the buffers held) does not end the response.
        await WaitIdle(server, seconds: 60);
        var wait = limit + ServerOptions.Grace(limit) + TimeSpan.FromSeconds(1.5) - sent.Elapsed;
        if (wait > TimeSpan.Zero) await Task.Delay(wait);
        var (data, complete, closed) = ReadResponse(stalled);
        Assert.False(complete, $"the response ended normally ({data.Length} bytes): the client was not disconnected");
        Assert.True(closed);
        Assert.True(data.Length < StallBytes, $"{data.Length} bytes came; the buffers hold less");
        // The slot and the server are fine.
        using var ok = await server.PostAsync("/v1/completions", """{"prompt": "And God said", "max_tokens": 3}""");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    /// <summary>The "data:" payloads of a raw HTTP/1.1 response with a chunked body.</summary>
    private static List<string> ServerSentEvents(byte[] response)
    {
        string text = Encoding.UTF8.GetString(response);
        int headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200", text);
        Assert.Contains("Transfer-Encoding: chunked", text[..headerEnd]);
        var body = new StringBuilder();
        for (int at = headerEnd + 4; ;)
        {
            int eol = text.IndexOf("\r\n", at, StringComparison.Ordinal);
            int size = Convert.ToInt32(text[at..eol], 16);
            if (size == 0) break;
            // Sizes count bytes; the payload is ASCII JSON apart from escaped text, so bytes and chars agree here.
            body.Append(text, eol + 2, size);
            at = eol + 2 + size + 2;
        }
        return body.ToString().Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e =>
        {
            Assert.StartsWith("data: ", e);
            return e["data: ".Length..];
        }).ToList();
    }

    [Fact]
    public async Task AFailedStartIsOneLineAndExitCode1()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        int port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = await EurusServer.RunAsync(["-m", TestServer.ModelPath, "--port", port.ToString(), "-c", "256", "-t", "1"], stdout, stderr);
        Assert.Equal(1, code);
        string[] lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("eurus-server: cannot start: ", lines[0]);
        Assert.Contains(port.ToString(), lines[0]);
        Assert.Equal("", stdout.ToString());

        // A missing model file: the same, with the usage left out (the arguments were fine).
        stderr = new StringWriter();
        Assert.Equal(1, await EurusServer.RunAsync(["-m", "/nonexistent/model.gguf", "--port", "0"], stdout, stderr));
        Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("/nonexistent/model.gguf", stderr.ToString());
    }

    [Fact]
    public void StartupErrorsAreFoldedIntoOneLine()
    {
        Assert.Equal("InvalidOperationException: first second", EurusServer.OneLine(new InvalidOperationException("first\r\n  second\n")));
        Assert.Equal("no room for 64 slots", EurusServer.OneLine(new AggregateException(new InsufficientMemoryException("no room for 64 slots"))));
        Assert.StartsWith("out of memory (", EurusServer.OneLine(new OutOfMemoryException()));
        Assert.Contains("--parallel", EurusServer.OneLine(new OutOfMemoryException()));
    }
}
