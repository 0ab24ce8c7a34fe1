using System.Text;
using System.Text.Json;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Generation;
using Eurus.Cpu.Sampling;
using Microsoft.Extensions.AI;

namespace Eurus.Server;

/// <summary>POST /v1/chat/completions and /v1/completions, streamed (server-sent events) or whole.</summary>
internal static class CompletionEndpoints
{
    public static async Task Chat(HttpContext ctx, ServerState s)
    {
        var req = await Json.Read(ctx, RequestJson.Default.ChatRequest);
        if (req.Messages is not { Count: > 0 }) throw ApiException.BadRequest("'messages' must be a non-empty array.", "messages");
        RequestLimits.Messages(req.Messages.Count, s.Options);
        long bytes = 0;
        var tools = ToolFields.Read(req, s.Options, ref bytes);
        // Consecutive messages of one role are merged by the chat format itself, in linear time (one join per run).
        var messages = new List<ChatMessage>(req.Messages.Count);
        foreach (var m in req.Messages)
        {
            if (m is null) throw ApiException.BadRequest("A message is null.", "messages");
            var role = m.Role switch
            {
                "system" or "developer" => ChatRole.System,
                "user" => ChatRole.User,
                "assistant" => ChatRole.Assistant,
                "tool" => ChatRole.Tool,
                _ => throw ApiException.BadRequest($"Unsupported message role '{m.Role}' (system, user, assistant and tool are).", "messages"),
            };
            string text = ContentText(m.Content);
            RequestLimits.PromptBytes(ref bytes, text, s.Options, "messages");
            messages.Add(ToolFields.Message(m, role, text));
        }
        var prompt = tools?.EncodePrompt(s.Model.Tokenizer, messages) ?? EurusChatClient.EncodePrompt(s.Model.Tokenizer, messages);
        await Run(ctx, s, req, prompt, chat: true, tools);
    }

    public static async Task Completion(HttpContext ctx, ServerState s)
    {
        var req = await Json.Read(ctx, RequestJson.Default.CompletionRequest);
        var p = req.Prompt;
        string? text = p.ValueKind switch
        {
            JsonValueKind.String => p.GetString()!,
            JsonValueKind.Array when p.GetArrayLength() == 1 && p[0].ValueKind == JsonValueKind.String => p[0].GetString()!,
            _ => null,
        };
        IReadOnlyList<int> prompt;
        if (text is not null)
        {
            long bytes = 0;
            RequestLimits.PromptBytes(ref bytes, text, s.Options, "prompt");
            prompt = s.Model.Tokenizer.Encode(text);
        }
        else if (p.ValueKind == JsonValueKind.Array && p.GetArrayLength() > 0 && p.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _)))
            prompt = p.EnumerateArray().Select(e => e.GetInt32()).ToArray();
        else
            throw ApiException.BadRequest("'prompt' must be a string, an array of one string, or a non-empty array of token ids.", "prompt");
        await Run(ctx, s, req, prompt, chat: false);
    }

    private static string ContentText(JsonElement content)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String: return content.GetString()!;
            case JsonValueKind.Null or JsonValueKind.Undefined: return "";
            case JsonValueKind.Array:
                var sb = new StringBuilder();
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                        throw ApiException.BadRequest("Content parts must be objects with a 'type'.", "messages");
                    if (type.GetString() != "text") throw ApiException.BadRequest($"Content part type '{type.GetString()}' is not supported (only 'text').", "messages");
                    if (!part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                        throw ApiException.BadRequest("A text part needs a string 'text'.", "messages");
                    sb.Append(text.GetString());
                }
                return sb.ToString();
            default: throw ApiException.BadRequest("Message 'content' must be a string or an array of text parts.", "messages");
        }
    }

    /// <summary>The request's sampling fields as settings; llama.cpp's defaults where a field is absent.</summary>
    internal static SamplingSettings Settings(SamplingFields r, ServerOptions o, int contextLength, int vocab, bool chat, EurusModel? draftModel = null)
    {
        if (r.N is int n && (n < 1 || n > o.Parallel))
            throw ApiException.BadRequest(n < 1 ? "'n' must be at least 1." : $"'n' is {n}; this server decodes at most {o.Parallel} choices of a request together (--parallel).", "n", n < 1 ? null : "too_many_choices");
        var (logprobs, top) = LogprobFields.Read(r, chat);
        int? max = r.MaxCompletionTokens ?? r.MaxTokens;
        if (max is int m && (m < 1 || m > contextLength))
            throw ApiException.BadRequest($"'max_tokens' must be from 1 to the context length {contextLength}, not {m}.", "max_tokens");
        if (r.Temperature is float t && !(t >= 0 && t <= 100)) throw ApiException.BadRequest("'temperature' must be from 0 to 100.", "temperature");
        if (r.TopK is < 0) throw ApiException.BadRequest("'top_k' must be ≥ 0.", "top_k");
        var stops = RequestLimits.StopStrings(r.Stop, o);
        RequestLimits.LogitBias(r.LogitBias, o, vocab);
        var d = new SamplingSettings();
        var settings = d with
        {
            Temperature = r.Temperature ?? d.Temperature,
            TopP = r.TopP ?? d.TopP,
            TopK = r.TopK ?? d.TopK,
            MinP = r.MinP ?? d.MinP,
            RepeatPenalty = r.RepeatPenalty ?? d.RepeatPenalty,
            FrequencyPenalty = r.FrequencyPenalty ?? d.FrequencyPenalty,
            PresencePenalty = r.PresencePenalty ?? d.PresencePenalty,
            Seed = r.Seed is long seed ? unchecked((ulong)seed) : null,
            MaxTokens = max ?? contextLength,
            StopStrings = stops,
            StopAtEos = !r.IgnoreEos,
            Grammar = GrammarFields.Read(r),
            Logprobs = logprobs,
            TopLogprobs = top,
            Speculation = SpeculativeFields.Read(r, o, draftModel),
        };
        try { settings.Validate(); }
        catch (ArgumentException e) { throw ApiException.BadRequest(e.Message); }
        return settings;
    }

    private static async Task Run(HttpContext ctx, ServerState s, SamplingFields req, IReadOnlyList<int> prompt, bool chat, EurusToolCalling? tools = null)
    {
        var settings = Settings(req, s.Options, s.Generator.ContextLength, s.Model.Tokenizer.VocabSize, chat, s.DraftModel);
        if (tools?.ReplyGbnf is { } toolGrammar)
        {
            if (settings.Grammar is not null)
                throw ApiException.BadRequest("'tools' (unless 'tool_choice' is \"none\") constrain the reply with their own grammar; they cannot be combined with 'grammar', 'json_schema' or a JSON 'response_format'.", "tools");
            settings = settings with { Grammar = GrammarFields.Gbnf(toolGrammar) };
        }
        // The calls of a reply that is whole calls (ToolFields), per choice; null for a text answer.
        var calls = new IReadOnlyList<FunctionCallContent>?[req.N ?? 1];
        IReadOnlyList<FunctionCallContent>? Calls(int i, string text, string finish) =>
            calls[i] = finish == "stop" && tools?.ParseCalls(text) is { Count: > 0 } parsed ? parsed : null;
        if (s.Stopping) throw new ApiException(503, "The server is shutting down.", "server_error", code: "shutting_down");
        var ct = ctx.RequestAborted;
        // The generation's token: the request's abort token (a client that disconnects cancels its generation and
        // frees its slot), the wall-clock limit and the shutdown deadline.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct, s.ShutdownDeadline);
        var timeout = s.Options.RequestTimeout;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        long firstToken = 0;
        string endpoint = chat ? "chat" : "completions";
        // n > 1: the choices share one evaluation of the prompt and decode together (BatchedGenerator.SubmitMany).
        int n = req.N ?? 1;
        IReadOnlyList<BatchedGeneration> generations = n == 1
            ? [s.Generator.Submit(prompt, settings, req.CachePrompt ?? s.Options.CachePrompt, limit.Token)]
            : s.Generator.SubmitMany(prompt, n, settings, limit.Token);
        var log = new RequestLog.Generation { Endpoint = endpoint, Stream = req.Stream, PromptTokens = prompt.Count };
        ctx.Items[typeof(RequestLog.Generation)] = log;
        RequestLog.Prompt(ctx, s, prompt);
        // A client that has not taken the whole answer a grace period after the limit (a client that stopped reading)
        // is disconnected, so its unsent answer is not held longer than that.
        using var disconnect = new CancellationTokenSource();
        using var abort = disconnect.Token.Register(ctx.Abort);
        if (timeout > TimeSpan.Zero)
        {
            limit.CancelAfter(timeout);
            disconnect.CancelAfter(timeout + ServerOptions.Grace(timeout));
        }
        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string kind = chat ? "chat.completion" : "text_completion";
        var logprobs = settings.Logprobs ? generations.Select(_ => new LogprobCollector(s.Model.Tokenizer, chat)).ToArray() : null;

        // Reads one choice's tokens until it ends; a generation the time limit cancelled ends quietly (with what it
        // produced), one the client cancelled throws (the error middleware drops it). The generator's channel is
        // unbounded and it never waits for this reader: a slow client holds back only its own answer (see docs/serving.md).
        async Task<(GenerationTimings Timings, bool TimedOut)> ConsumeOne(BatchedGeneration generation, Func<GeneratedToken, Task> onToken)
        {
            try
            {
                await foreach (var t in generation.WithCancellation(ct))
                {
                    if (firstToken == 0) Interlocked.CompareExchange(ref firstToken, System.Diagnostics.Stopwatch.GetTimestamp(), 0);
                    await onToken(t);
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested && limit.IsCancellationRequested) { }
            var timings = await generation.Completion;
            return (timings, timings.FinishReason == FinishReason.Cancelled && !ct.IsCancellationRequested && limit.IsCancellationRequested);
        }
        // Every choice, read together; counted once per request however it ends (a client that went away included).
        async Task<(GenerationTimings Timings, bool TimedOut)[]> Consume(Func<int, GeneratedToken, Task> onToken)
        {
            try { return await Task.WhenAll(generations.Select((g, i) => ConsumeOne(g, t => onToken(i, t)))); }
            finally
            {
                var all = await Task.WhenAll(generations.Select(g => g.Completion));
                var timings = Combine(all);
                double seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
                double? ttft = firstToken == 0 ? null : System.Diagnostics.Stopwatch.GetElapsedTime(started, firstToken).TotalSeconds;
                string outcome = ct.IsCancellationRequested ? "client_cancelled"
                    : all.Any(t => t.FinishReason == FinishReason.Cancelled) ? (s.ShutdownDeadline.IsCancellationRequested ? "shutdown" : "timeout")
                    : "ok";
                s.Metrics.Record(endpoint, timings, outcome, seconds, ttft);
                log.Timings = timings;
                log.Outcome = outcome;
                log.FirstTokenSeconds = ttft;
            }
        }
        string FinishReasonOf((GenerationTimings Timings, bool TimedOut) r) => r.TimedOut ? "length" : Finish(r.Timings);
        object Warning() => s.ShutdownDeadline.IsCancellationRequested
            ? new
            {
                code = "server_shutdown",
                message = $"The server is shutting down and its {s.Options.ShutdownTimeout.TotalSeconds:0.###} s for running requests (--shutdown-timeout) have passed; the answer is cut short.",
            }
            : new
            {
                code = "request_timeout",
                message = $"The request reached this server's wall-clock limit of {timeout.TotalSeconds:0.###} s (--request-timeout); the answer is cut short.",
            };

        if (!req.Stream)
        {
            var texts = generations.Select(_ => new StringBuilder()).ToArray();
            var results = await Consume((i, t) => { texts[i].Append(t.Text); logprobs?[i].Add(t); return Task.CompletedTask; });
            var choices = results.Select((r, i) => chat
                ? Calls(i, texts[i].ToString(), FinishReasonOf(r)) is { } made
                    ? new { index = i, message = ToolCallMessage(made), logprobs = logprobs?[i].Take(always: true), finish_reason = "tool_calls" }
                    : (object)new { index = i, message = new { role = "assistant", content = texts[i].ToString() }, logprobs = logprobs?[i].Take(always: true), finish_reason = FinishReasonOf(r) }
                : new { index = i, text = texts[i].ToString(), logprobs = logprobs?[i].Take(always: true), finish_reason = FinishReasonOf(r) }).ToArray();
            var all = Combine(results.Select(r => r.Timings).ToArray());
            var body = JsonSerializer.SerializeToNode(new { id, @object = kind, created, model = s.ModelId, choices, usage = Usage(prompt.Count, all), timings = Timings(all) })!.AsObject();
            if (results.Any(r => r.TimedOut)) body["warning"] = JsonSerializer.SerializeToNode(Warning());
            await Results.Json(body).ExecuteAsync(ctx);
            return;
        }

        var response = ctx.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        string chunkKind = chat ? "chat.completion.chunk" : "text_completion";
        object Chunk(int index, string? content, string? finish, bool first = false, object? warning = null, object? lp = null) => chat
            ? new
            {
                id, @object = chunkKind, created, model = s.ModelId,
                choices = new[] { new { index, delta = first ? new { role = (string?)"assistant", content } : new { role = (string?)null, content }, logprobs = lp, finish_reason = finish } },
                warning,
            }
            : new { id, @object = chunkKind, created, model = s.ModelId, choices = new[] { new { index, text = content ?? "", logprobs = lp, finish_reason = finish } }, warning };

        // The choices' readers take turns on the response.
        using var turn = new SemaphoreSlim(1, 1);
        async Task Send(object payload)
        {
            await turn.WaitAsync(ct);
            try
            {
                await response.WriteAsync("data: " + JsonSerializer.Serialize(payload, Options) + "\n\n", ct);
                await response.Body.FlushAsync(ct);
            }
            finally { turn.Release(); }
        }

        if (chat)
            for (int i = 0; i < n; i++) await Send(Chunk(i, "", null, first: true));
        // With tools that may be called, a reply is held back while it is empty or starts with '{' (calls, or text
        // that is not): each call is sent whole at the end, one tool_calls delta per call (index 0, 1, …).
        var held = tools?.ReplyGbnf is not null ? Enumerable.Range(0, n).Select(_ => (StringBuilder?)new StringBuilder()).ToArray() : null;
        // A token's log probabilities go with the chunk of the next text (a token that completes no character yet has none).
        var done = await Consume((i, t) =>
        {
            logprobs?[i].Add(t);
            if (t.Text.Length == 0) return Task.CompletedTask;
            if (held?[i] is { } h)
            {
                h.Append(t.Text);
                if (h[0] == '{') return Task.CompletedTask;
                held[i] = null;
                return Send(Chunk(i, h.ToString(), null, lp: logprobs?[i].Take()));
            }
            return Send(Chunk(i, t.Text, null, lp: logprobs?[i].Take()));
        });
        for (int i = 0; i < n && held is not null; i++)
        {
            if (held[i] is not { Length: > 0 } h) continue;
            string reply = h.ToString();
            if (Calls(i, reply, FinishReasonOf(done[i])) is { } made)
                for (int k = 0; k < made.Count; k++)
                    await Send(new
                    {
                        id, @object = chunkKind, created, model = s.ModelId,
                        // The reply's log probabilities go with its first call's chunk.
                        choices = new[] { new { index = i, delta = new { tool_calls = new[] { ToolCallDelta(made[k], k) } }, logprobs = logprobs?[i].Take(), finish_reason = (string?)null } },
                    });
            else await Send(Chunk(i, reply, null, lp: logprobs?[i].Take()));
        }
        // Each choice's last chunk carries its finish reason; the very last, llama-server's timings (prompt tokens
        // evaluated and cached, speeds) of the whole request.
        var total = Combine(done.Select(r => r.Timings).ToArray());
        for (int i = 0; i < n; i++)
        {
            var last = JsonSerializer.SerializeToNode(Chunk(i, chat ? null : "", calls[i] is not null ? "tool_calls" : FinishReasonOf(done[i]), warning: done[i].TimedOut ? Warning() : null, lp: logprobs?[i].Take()), Options)!.AsObject();
            if (i == n - 1) last["timings"] = JsonSerializer.SerializeToNode(Timings(total));
            await Send(last);
        }
        if (req.StreamOptions?.IncludeUsage == true)
            await Send(new { id, @object = chunkKind, created, model = s.ModelId, choices = Array.Empty<object>(), usage = Usage(prompt.Count, total) });
        await response.WriteAsync("data: [DONE]\n\n", ct);
        await response.Body.FlushAsync(ct);
    }

    /// <summary>OpenAI's assistant message with calls: <c>content</c> null, each call's arguments as a JSON string.</summary>
    private static object ToolCallMessage(IReadOnlyList<FunctionCallContent> calls) => new
    {
        role = "assistant",
        content = (string?)null,
        tool_calls = calls.Select(c => new { id = c.CallId, type = "function", function = new { name = c.Name, arguments = ToolFields.ArgumentsText(c) } }).ToArray(),
    };

    /// <summary>A streamed call, whole in one delta; <paramref name="index"/> is its place among the reply's calls.</summary>
    private static object ToolCallDelta(FunctionCallContent call, int index) =>
        new { index, id = call.CallId, type = "function", function = new { name = call.Name, arguments = ToolFields.ArgumentsText(call) } };

    /// <summary>
    /// One request's timings from its choices': the prompt tokens evaluated by all of them (the first evaluates the
    /// prompt, the others share it), the first's cache use and prompt time, every choice's generated tokens, the
    /// longest decode time, and the first's finish reason.
    /// </summary>
    private static GenerationTimings Combine(GenerationTimings[] t) => t.Length == 1 ? t[0] : t[0] with
    {
        PromptTokens = t.Sum(x => x.PromptTokens),
        GeneratedTokens = t.Sum(x => x.GeneratedTokens),
        DecodeSeconds = t.Max(x => x.DecodeSeconds),
    };

    private static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private static string Finish(GenerationTimings t) => t.FinishReason is FinishReason.MaxTokens or FinishReason.ContextFull ? "length" : "stop";

    /// <summary>OpenAI's usage: the whole prompt, of which <c>prompt_tokens_details.cached_tokens</c> came from the prompt cache.</summary>
    private static object Usage(int promptTokens, GenerationTimings t) => new
    {
        prompt_tokens = promptTokens,
        completion_tokens = t.GeneratedTokens,
        total_tokens = promptTokens + t.GeneratedTokens,
        prompt_tokens_details = new { cached_tokens = t.CachedPromptTokens },
    };

    /// <summary>llama-server's <c>timings</c>: prompt tokens evaluated (<c>prompt_n</c>) and reused (<c>cache_n</c>), generated tokens, times and speeds, draft tokens.</summary>
    private static object Timings(GenerationTimings t) => new
    {
        cache_n = t.CachedPromptTokens,
        prompt_n = t.PromptTokens,
        prompt_ms = t.PromptSeconds * 1000,
        prompt_per_second = t.PromptTokensPerSecond,
        predicted_n = t.GeneratedTokens,
        predicted_ms = t.DecodeSeconds * 1000,
        predicted_per_second = t.DecodeTokensPerSecond,
        draft_n = t.DraftTokens, // speculative decoding (speculative.n_max): draft tokens checked, and kept
        draft_n_accepted = t.AcceptedDraftTokens,
    };
}
