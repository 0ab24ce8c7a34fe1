using System.Text.Json;

namespace Eurus.Server;

/// <summary>A request the server refuses, with its HTTP status and OpenAI-style error fields.</summary>
public sealed class ApiException(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static ApiException BadRequest(string message, string? param = null, string? code = null) => new(400, message, param: param, code: code);

    /// <summary>Writes <c>{"error": {"message", "type", "param", "code"}}</c> with the status.</summary>
    public static Task Write(HttpContext ctx, int status, string message, string type, string? param = null, string? code = null)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(JsonSerializer.Serialize(new { error = new { message, type, param, code } }));
    }

    public Task Write(HttpContext ctx) => Write(ctx, Status, Message, Type, Param, Code);
}
