using System.Text.Json;
using Eurus.Cpu.Grammars;

namespace Eurus.Server;

/// <summary>
/// The request fields that constrain the answer to a grammar: OpenAI's <c>response_format</c>
/// (<c>{"type": "text"}</c>, <c>{"type": "json_object"}</c> — any JSON object, or llama-server's
/// <c>{"type": "json_object", "schema": {...}}</c> — and <c>{"type": "json_schema", "json_schema": {"schema": {...}}}</c>),
/// llama-server's <c>grammar</c> (GBNF text) and <c>json_schema</c>. At most one may be given; a bad grammar or schema is
/// a 400 naming the line and column or the schema keyword. Grammars of recent schemas are reused, with their caches.
/// </summary>
internal static class GrammarFields
{
    private static readonly Dictionary<string, Grammar> s_recent = new(StringComparer.Ordinal);

    public static Grammar? Read(SamplingFields r)
    {
        var found = new List<(string Param, Func<Grammar?> Make)>();
        if (r.ResponseFormat.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null)) found.Add(("response_format", () => ResponseFormat(r.ResponseFormat)));
        if (r.Grammar is { Length: > 0 } gbnf) found.Add(("grammar", () => Cached("gbnf:" + gbnf, () => Grammar.Parse(gbnf))));
        if (r.JsonSchema.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null)) found.Add(("json_schema", () => Schema(r.JsonSchema)));
        var made = found.Select(f => (f.Param, Grammar: Make(f.Param, f.Make))).Where(f => f.Grammar is not null).ToList();
        if (made.Count > 1) throw ApiException.BadRequest($"'{made[0].Param}' and '{made[1].Param}' both constrain the answer; give one.", made[1].Param);
        return made.Count == 1 ? made[0].Grammar : null;
    }

    /// <summary>The grammar of GBNF text the server built itself (function calling's reply grammar), reused across requests.</summary>
    public static Grammar Gbnf(string gbnf) => Cached("gbnf:" + gbnf, () => Grammar.Parse(gbnf));

    private static Grammar? Make(string param, Func<Grammar?> make)
    {
        try { return make(); }
        catch (GrammarException e) { throw ApiException.BadRequest($"'{param}': {e.Message}", param); }
    }

    private static Grammar? ResponseFormat(JsonElement f)
    {
        if (f.ValueKind != JsonValueKind.Object || !f.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw ApiException.BadRequest("'response_format' must be an object with a string 'type'.", "response_format");
        switch (type.GetString())
        {
            case "text": return null;
            case "json_object":
                return f.TryGetProperty("schema", out var s) && s.ValueKind != JsonValueKind.Null ? Schema(s) : Grammar.JsonObject;
            case "json_schema":
                if (!f.TryGetProperty("json_schema", out var js) || js.ValueKind != JsonValueKind.Object || !js.TryGetProperty("schema", out var schema))
                    throw ApiException.BadRequest("'response_format' of type 'json_schema' needs 'json_schema': {\"schema\": {...}}.", "response_format");
                return Schema(schema);
            default:
                throw ApiException.BadRequest($"'response_format' type '{type.GetString()}' is not supported (text, json_object and json_schema are).", "response_format");
        }
    }

    private static Grammar Schema(JsonElement schema)
    {
        string text = schema.GetRawText();
        return Cached("schema:" + text, () => Grammar.FromJsonSchema(text));
    }

    private static Grammar Cached(string key, Func<Grammar> make)
    {
        lock (s_recent)
            if (s_recent.TryGetValue(key, out var g)) return g;
        var made = make();
        lock (s_recent)
        {
            if (s_recent.Count >= 64) s_recent.Clear();
            s_recent[key] = made;
        }
        return made;
    }
}
