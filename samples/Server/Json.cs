using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Eurus.Server;

internal static class Json
{
    /// <summary>Reads the body as <typeparamref name="T"/>; an empty body, <c>null</c> or bad JSON is a 400.</summary>
    public static async Task<T> Read<T>(HttpContext ctx, JsonTypeInfo<T> type) where T : class
    {
        try
        {
            return await JsonSerializer.DeserializeAsync(ctx.Request.Body, type, ctx.RequestAborted)
                   ?? throw ApiException.BadRequest("The request body must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"Malformed JSON body: {e.Message}");
        }
    }
}
