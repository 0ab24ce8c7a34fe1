using System.Text;
using System.Text.Json;

namespace Eurus.Gateway;

/// <summary>
/// The key that keeps a conversation on one replica, so its next turn finds its prefix in that replica's prompt cache:
/// the <c>X-Conversation-Id</c> header, else the request's <c>user</c> field, else a hash of what every turn of a
/// conversation starts with — its first two messages (chat) or the first 256 characters of its prompt (completions).
/// The body is buffered (up to <see cref="GatewayOptions.MaxBodyBytes"/>) and rewound for the proxy.
/// </summary>
internal static class ConversationKey
{
    public static async Task Middleware(HttpContext ctx, RequestDelegate next)
    {
        var options = ctx.RequestServices.GetRequiredService<GatewayOptions>();
        string? key = ctx.Request.Headers[options.ConversationHeader].ToString() is { Length: > 0 } h ? "h:" + h : null;
        if (key is null && HttpMethods.IsPost(ctx.Request.Method) && ctx.Request.ContentLength is not 0)
        {
            if (ctx.Request.ContentLength > options.MaxBodyBytes)
            {
                ctx.Response.StatusCode = 413;
                await ctx.Response.WriteAsJsonAsync(new { error = new { message = $"The request body is over {options.MaxBodyBytes} bytes.", type = "invalid_request_error", code = "request_too_large" } });
                return;
            }
            ctx.Request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: options.MaxBodyBytes);
            try
            {
                using var doc = await JsonDocument.ParseAsync(ctx.Request.Body, default, ctx.RequestAborted);
                key = FromBody(doc.RootElement);
            }
            catch (JsonException) { } // not JSON: no key; the replica answers the error
            catch (IOException) when (!ctx.RequestAborted.IsCancellationRequested) { } // over the buffer limit: the replica refuses it
            ctx.Request.Body.Position = 0;
        }
        if (key is not null) ctx.Items[typeof(ConversationKey)] = key;
        await next(ctx);
    }

    public static string? Of(HttpContext ctx) => ctx.Items[typeof(ConversationKey)] as string;

    /// <summary>The key in a request body: its <c>user</c>, else its conversation's opening.</summary>
    internal static string? FromBody(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object) return null;
        if (body.TryGetProperty("user", out var user) && user.ValueKind == JsonValueKind.String && user.GetString() is { Length: > 0 } u) return "u:" + u;
        var sb = new StringBuilder();
        if (body.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            int n = 0;
            foreach (var m in messages.EnumerateArray())
            {
                if (n++ == 2) break;
                sb.Append(m.GetRawText()).Append('\n');
            }
            return sb.Length > 0 ? "m:" + sb : null;
        }
        if (body.TryGetProperty("prompt", out var prompt))
        {
            string text = prompt.ValueKind == JsonValueKind.String ? prompt.GetString()! : prompt.GetRawText();
            return "p:" + text[..Math.Min(text.Length, 256)];
        }
        return null;
    }
}
