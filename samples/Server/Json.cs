using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Eurus.Server;

internal static class Json
{
    /// <summary>
    /// Reads the body as <typeparamref name="T"/>; an empty body, <c>null</c> or bad JSON is a 400. Every string of the
    /// body is decoded once first: System.Text.Json checks a string's UTF-8 (and escaped surrogates) only when it is
    /// read, so a bad one in a <see cref="JsonElement"/> field (content, prompt, stop) would otherwise fail later as a 500.
    /// </summary>
    public static async Task<T> Read<T>(HttpContext ctx, JsonTypeInfo<T> type) where T : class
    {
        try
        {
            using var doc = await JsonDocument.ParseAsync(ctx.Request.Body, default, ctx.RequestAborted);
            try { CheckStrings(doc.RootElement); }
            catch (InvalidOperationException e) { throw new JsonException(e.Message, e); }
            return doc.Deserialize(type) ?? throw ApiException.BadRequest("The request body must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"Malformed JSON body: {e.Message}");
        }
    }

    private static void CheckStrings(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    _ = p.Name;
                    CheckStrings(p.Value);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in e.EnumerateArray()) CheckStrings(item);
                break;
            case JsonValueKind.String:
                _ = e.GetString();
                break;
        }
    }
}
