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
        if (req.Tools.ValueKind == JsonValueKind.Array && req.Tools.GetArrayLength() > 0)
            throw ApiException.BadRequest("Tools are not supported by this server.", "tools");
        var messages = new List<ChatMessage>();
        foreach (var m in req.Messages)
        {
            if (m is null) throw ApiException.BadRequest("A message is null.", "messages");
            var role = m.Role switch
            {
                "system" or "developer" => ChatRole.System,
                "user" => ChatRole.User,
                "assistant" => ChatRole.Assistant,
                _ => throw ApiException.BadRequest($"Unsupported message role '{m.Role}' (system, user and assistant are).", "messages"),
            };
            messages.Add(new ChatMessage(role, ContentText(m.Content)));
        }
        var prompt = EurusChatClient.EncodePrompt(s.Model.Tokenizer, messages);
        await Run(ctx, s, req, prompt, chat: true);
    }

    public static async Task Completion(HttpContext ctx, ServerState s)
    {
        var req = await Json.Read(ctx, RequestJson.Default.CompletionRequest);
        var p = req.Prompt;
        IReadOnlyList<int> prompt = p.ValueKind switch
        {
            JsonValueKind.String => s.Model.Tokenizer.Encode(p.GetString()!),
            JsonValueKind.Array when p.GetArrayLength() == 1 && p[0].ValueKind == JsonValueKind.String => s.Model.Tokenizer.Encode(p[0].GetString()!),
            JsonValueKind.Array when p.GetArrayLength() > 0 && p.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _)) =>
                p.EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            _ => throw ApiException.BadRequest("'prompt' must be a string, an array of one string, or a non-empty array of token ids.", "prompt"),
        };
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
    internal static SamplingSettings Settings(SamplingFields r, int contextLength)
    {
        if (r.N is int n && n != 1) throw ApiException.BadRequest(n < 1 ? "'n' must be at least 1." : "Only n = 1 is supported.", "n");
        int? max = r.MaxCompletionTokens ?? r.MaxTokens;
        if (max is int m && (m < 1 || m > contextLength))
            throw ApiException.BadRequest($"'max_tokens' must be from 1 to the context length {contextLength}, not {m}.", "max_tokens");
        if (r.Temperature is float t && !(t >= 0 && t <= 100)) throw ApiException.BadRequest("'temperature' must be from 0 to 100.", "temperature");
        if (r.TopK is < 0) throw ApiException.BadRequest("'top_k' must be ≥ 0.", "top_k");
        var stops = r.Stop.ValueKind switch
        {
            JsonValueKind.Undefined or JsonValueKind.Null => [],
            JsonValueKind.String => [r.Stop.GetString()!],
            JsonValueKind.Array when r.Stop.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String) => r.Stop.EnumerateArray().Select(e => e.GetString()!).ToArray(),
            _ => throw ApiException.BadRequest("'stop' must be a string or an array of strings.", "stop"),
        };
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
        };
        try { settings.Validate(); }
        catch (ArgumentException e) { throw ApiException.BadRequest(e.Message); }
        return settings;
    }

    private static async Task Run(HttpContext ctx, ServerState s, SamplingFields req, IReadOnlyList<int> prompt, bool chat)
    {
        var settings = Settings(req, s.Generator.ContextLength);
        var ct = ctx.RequestAborted;
        // Submitted with the request's abort token: a client that disconnects cancels its generation and frees its slot.
        var generation = s.Generator.Submit(prompt, settings, ct);
        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string kind = chat ? "chat.completion" : "text_completion";
        if (!req.Stream)
        {
            var text = new StringBuilder();
            await foreach (var t in generation.WithCancellation(ct)) text.Append(t.Text);
            var timings = await generation.Completion;
            object choice = chat
                ? new { index = 0, message = new { role = "assistant", content = text.ToString() }, logprobs = (object?)null, finish_reason = Finish(timings) }
                : new { index = 0, text = text.ToString(), logprobs = (object?)null, finish_reason = Finish(timings) };
            await Results.Json(new { id, @object = kind, created, model = s.ModelId, choices = new[] { choice }, usage = Usage(timings) }).ExecuteAsync(ctx);
            return;
        }

        var response = ctx.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        string chunkKind = chat ? "chat.completion.chunk" : "text_completion";
        object Chunk(string? content, string? finish, bool first = false) => chat
            ? new
            {
                id, @object = chunkKind, created, model = s.ModelId,
                choices = new[] { new { index = 0, delta = first ? new { role = (string?)"assistant", content } : new { role = (string?)null, content }, logprobs = (object?)null, finish_reason = finish } },
            }
            : new { id, @object = chunkKind, created, model = s.ModelId, choices = new[] { new { index = 0, text = content ?? "", logprobs = (object?)null, finish_reason = finish } } };

        async Task Send(object payload)
        {
            await response.WriteAsync("data: " + JsonSerializer.Serialize(payload, Options) + "\n\n", ct);
            await response.Body.FlushAsync(ct);
        }

        if (chat) await Send(Chunk("", null, first: true));
        await foreach (var t in generation.WithCancellation(ct))
            if (t.Text.Length > 0) await Send(Chunk(t.Text, null));
        var done = await generation.Completion;
        await Send(Chunk(chat ? null : "", Finish(done)));
        if (req.StreamOptions?.IncludeUsage == true)
            await Send(new { id, @object = chunkKind, created, model = s.ModelId, choices = Array.Empty<object>(), usage = Usage(done) });
        await response.WriteAsync("data: [DONE]\n\n", ct);
        await response.Body.FlushAsync(ct);
    }

    private static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private static string Finish(GenerationTimings t) => t.FinishReason is FinishReason.MaxTokens or FinishReason.ContextFull ? "length" : "stop";

    private static object Usage(GenerationTimings t) => new { prompt_tokens = t.PromptTokens, completion_tokens = t.GeneratedTokens, total_tokens = t.PromptTokens + t.GeneratedTokens };
}
