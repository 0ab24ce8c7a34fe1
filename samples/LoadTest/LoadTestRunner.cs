using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Eurus.LoadTest;

/// <summary>
/// Starts N eurus-server replicas and the gateway on 127.0.0.1 (the demo model), runs the conversations through the
/// gateway as streaming chat requests (several turns each, some cancelled by the client), kills one replica part way
/// and restarts it, and accounts for every request.
/// </summary>
public static class LoadTestRunner
{
    private static readonly string[] Openings =
    [
        "Who made the heaven and the earth?", "What did the LORD say unto Moses?", "Tell of the children of Israel.",
        "Who was the first king?", "What is written in the law?", "Speak of the prophets.", "Who built the ark?", "What came to pass in Egypt?",
    ];
    private static readonly string[] FollowUps = ["And then what?", "Why was it so?", "Who else was there?", "What did they say?", "Tell me more."];

    public static async Task<LoadTestReport> RunAsync(LoadTestOptions o, TextWriter log)
    {
        string root = RepoRoot();
        string serverDll = Path.Combine(root, "samples", "Server", "bin", o.Configuration, "net10.0", "eurus-server.dll");
        string gatewayDll = Path.Combine(root, "samples", "Gateway", "bin", o.Configuration, "net10.0", "eurus-gateway.dll");
        string model = o.Model ?? Path.Combine(root, "models", "kjv-tiny-Q8_0.gguf");
        foreach (var f in new[] { serverDll, gatewayDll, model })
            if (!File.Exists(f)) throw new ArgumentException($"'{f}' is missing: build first (dotnet build -c {o.Configuration} samples/LoadTest).");

        var replicas = Enumerable.Range(0, o.Replicas).Select(i => new ManagedProcess($"replica{i}", serverDll,
            port => $"-m {model} --port {port} -c 256 -t {o.ThreadsPerReplica} --parallel {o.Parallel} --queue 256 --shutdown-timeout 2", "/health/ready")).ToList();
        ManagedProcess? gateway = null;
        try
        {
            await Task.WhenAll(replicas.Select(r => r.StartAsync(TimeSpan.FromSeconds(60))));
            gateway = new ManagedProcess("gateway", gatewayDll,
                port => $"--urls http://127.0.0.1:{port} --health-interval 1 " + string.Join(' ', replicas.Select(r => $"--replica {r.Url}")), "/gateway/health");
            await gateway.StartAsync(TimeSpan.FromSeconds(60));
            log.WriteLine($"{o.Replicas} replicas and the gateway up; {o.Conversations} conversations × {o.Turns} turns, {o.MaxTokens} tokens max each");

            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            {
                BaseAddress = new Uri(gateway.Url), Timeout = Timeout.InfiniteTimeSpan,
            };
            var results = new System.Collections.Concurrent.ConcurrentBag<RequestResult>();
            int expected = o.Conversations * o.Turns;
            var clock = Stopwatch.StartNew();
            double? killedAt = null, restartedAt = null;
            using var stopSampling = new CancellationTokenSource();
            var all = replicas.Append(gateway).ToList();
            var sampler = Task.Run(async () =>
            {
                while (!stopSampling.IsCancellationRequested)
                {
                    foreach (var p in all) p.Sample();
                    try { await Task.Delay(250, stopSampling.Token); } catch (OperationCanceledException) { }
                }
            });
            var killer = Task.Run(async () =>
            {
                if (o.KillAt < 0) return;
                while (results.Count < o.KillAt * expected && clock.Elapsed < o.RequestLimit) await Task.Delay(50);
                var victim = replicas[1];
                killedAt = clock.Elapsed.TotalSeconds; // before the kill: its requests fail as it dies
                victim.Kill();
                log.WriteLine($"killed {victim.Name} at {killedAt:F1} s ({results.Count} of {expected} requests ended)");
                await Task.Delay(o.RestartAfter);
                await victim.StartAsync(TimeSpan.FromSeconds(60));
                restartedAt = clock.Elapsed.TotalSeconds;
                log.WriteLine($"restarted {victim.Name}, healthy at {restartedAt:F1} s");
            });
            await Task.WhenAll(Enumerable.Range(0, o.Conversations).Select(c => Conversation(http, o, c, clock, results)));
            double wall = clock.Elapsed.TotalSeconds;
            await killer;
            stopSampling.Cancel();
            await sampler;
            return new LoadTestReport
            {
                Results = [.. results.OrderBy(r => r.Conversation).ThenBy(r => r.Turn)], Expected = expected, WallSeconds = wall,
                KilledAt = killedAt, RestartedAt = restartedAt,
                PeakWorkingSet = all.ToDictionary(p => p.Name, p => p.PeakWorkingSet),
            };
        }
        finally
        {
            gateway?.Dispose();
            foreach (var r in replicas) r.Dispose();
        }
    }

    private static async Task Conversation(HttpClient http, LoadTestOptions o, int c, Stopwatch clock, System.Collections.Concurrent.ConcurrentBag<RequestResult> results)
    {
        var rng = new Random(o.Seed * 7919 + c);
        var messages = new List<object> { new { role = "user", content = $"{Openings[c % Openings.Length]} (conversation {c})" } };
        for (int turn = 0; turn < o.Turns; turn++)
        {
            int cancelAfter = rng.NextDouble() < o.CancelFraction ? 1 + rng.Next(Math.Max(1, o.MaxTokens / 2)) : -1;
            var (result, text) = await Request(http, o, c, turn, messages, cancelAfter, clock);
            results.Add(result);
            messages.Add(new { role = "assistant", content = text });
            messages.Add(new { role = "user", content = FollowUps[rng.Next(FollowUps.Length)] });
        }
    }

    private static async Task<(RequestResult, string)> Request(HttpClient http, LoadTestOptions o, int c, int turn, List<object> messages, int cancelAfter, Stopwatch clock)
    {
        double start = clock.Elapsed.TotalSeconds;
        double? first = null;
        int tokens = 0, promptTokens = 0, cached = 0, status = 0;
        string? replica = null;
        var text = new StringBuilder();
        bool done = false;
        using var limit = new CancellationTokenSource(o.RequestLimit);
        RequestResult Result(Outcome outcome, string? error = null) =>
            new(c, turn, outcome, replica, start, first, clock.Elapsed.TotalSeconds - start, tokens, promptTokens, cached, status, error);
        try
        {
            string body = JsonSerializer.Serialize(new
            {
                messages, user = $"conversation-{c}", stream = true, stream_options = new { include_usage = true },
                max_tokens = o.MaxTokens, temperature = 0.8, seed = c * 100 + turn,
            });
            using var req = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            using var resp = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, limit.Token);
            status = (int)resp.StatusCode;
            replica = resp.Headers.TryGetValues("X-Eurus-Replica", out var v) ? v.First() : null;
            if (!resp.IsSuccessStatusCode)
            {
                string err = await resp.Content.ReadAsStringAsync(limit.Token);
                return (Result(Outcome.HttpError, $"HTTP {status} {err[..Math.Min(err.Length, 120)]}"), text.ToString());
            }
            using var reader = new StreamReader(await resp.Content.ReadAsStreamAsync(limit.Token));
            while (await reader.ReadLineAsync(limit.Token) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                string data = line[6..];
                if (data == "[DONE]") { done = true; break; }
                using var doc = JsonDocument.Parse(data);
                var root = doc.RootElement;
                if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                {
                    promptTokens = usage.GetProperty("prompt_tokens").GetInt32();
                    cached = usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
                }
                if (root.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices && choices.GetArrayLength() > 0
                    && choices[0].GetProperty("delta").TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 } piece)
                {
                    first ??= clock.Elapsed.TotalSeconds - start;
                    tokens++;
                    text.Append(piece);
                    if (tokens == cancelAfter) return (Result(Outcome.Cancelled), text.ToString()); // disposing the response closes the stream
                }
            }
            return done ? (Result(Outcome.Completed), text.ToString()) : (Result(Outcome.BrokenStream, "the stream ended without [DONE]"), text.ToString());
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            return (Result(Outcome.Hung, $"no end within {o.RequestLimit.TotalSeconds} s"), text.ToString());
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return (Result(status == 0 ? Outcome.HttpError : Outcome.BrokenStream, $"{e.GetType().Name}: {e.Message}"), text.ToString());
        }
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Eurus.Cpu.sln"))) return d.FullName;
        throw new ArgumentException("Eurus.Cpu.sln not found above " + AppContext.BaseDirectory);
    }
}
