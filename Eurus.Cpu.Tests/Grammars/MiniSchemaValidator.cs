using System.Text.Json;

namespace Eurus.Cpu.Tests.Grammars;

/// <summary>
/// A small JSON Schema validator for the keywords the grammar converter supports, written independently of it, so
/// that sampled outputs are checked against the schema's meaning rather than against the generated grammar.
/// Returns null when <paramref name="value"/> is valid, else the first problem.
/// </summary>
internal static class MiniSchemaValidator
{
    public static string? Validate(JsonElement schema, JsonElement value, JsonElement? root = null, string at = "$")
    {
        var r = root ?? schema;
        if (schema.ValueKind == JsonValueKind.True) return null;
        if (schema.ValueKind == JsonValueKind.False) return $"{at}: schema false";
        if (schema.TryGetProperty("$ref", out var refEl))
        {
            var parts = refEl.GetString()!.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries);
            var target = r;
            foreach (var p in parts) target = target.GetProperty(p);
            return Validate(target, value, r, at);
        }
        if (schema.TryGetProperty("const", out var c) && !JsonElement.DeepEquals(c, value)) return $"{at}: not the const";
        if (schema.TryGetProperty("enum", out var en) && !en.EnumerateArray().Any(e => JsonElement.DeepEquals(e, value))) return $"{at}: not in the enum";
        foreach (var key in new[] { "anyOf", "oneOf" })
            if (schema.TryGetProperty(key, out var alts) && !alts.EnumerateArray().Any(a => Validate(a, value, r, at) is null))
                return $"{at}: matches no {key} alternative";
        if (schema.TryGetProperty("type", out var type))
        {
            var types = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToArray() : [type.GetString()!];
            if (!types.Any(t => IsType(value, t))) return $"{at}: not of type {string.Join("|", types)}";
        }
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                int len = value.GetString()!.EnumerateRunes().Count();
                if (schema.TryGetProperty("minLength", out var minL) && len < minL.GetInt32()) return $"{at}: shorter than minLength";
                if (schema.TryGetProperty("maxLength", out var maxL) && len > maxL.GetInt32()) return $"{at}: longer than maxLength";
                if (schema.TryGetProperty("format", out var f))
                {
                    string s = value.GetString()!;
                    bool ok = f.GetString() switch
                    {
                        "date" => DateOnly.TryParseExact(s, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _),
                        "uuid" => Guid.TryParseExact(s, "D", out _),
                        "date-time" => DateTimeOffset.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _) && s.Contains('T'),
                        _ => true,
                    };
                    if (!ok) return $"{at}: not a {f.GetString()}";
                }
                break;
            case JsonValueKind.Array:
                int n = value.GetArrayLength();
                if (schema.TryGetProperty("minItems", out var minI) && n < minI.GetInt32()) return $"{at}: fewer than minItems";
                if (schema.TryGetProperty("maxItems", out var maxI) && n > maxI.GetInt32()) return $"{at}: more than maxItems";
                if (schema.TryGetProperty("prefixItems", out var prefix))
                {
                    if (n != prefix.GetArrayLength()) return $"{at}: tuple length";
                    for (int i = 0; i < n; i++) if (Validate(prefix[i], value[i], r, $"{at}[{i}]") is { } e) return e;
                }
                else if (schema.TryGetProperty("items", out var items))
                    for (int i = 0; i < n; i++) if (Validate(items, value[i], r, $"{at}[{i}]") is { } e) return e;
                break;
            case JsonValueKind.Object:
                var props = schema.TryGetProperty("properties", out var p) ? p : default;
                if (schema.TryGetProperty("required", out var req))
                    foreach (var name in req.EnumerateArray())
                        if (!value.TryGetProperty(name.GetString()!, out _)) return $"{at}: missing required '{name.GetString()}'";
                foreach (var kv in value.EnumerateObject())
                {
                    if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty(kv.Name, out var ps))
                    {
                        if (Validate(ps, kv.Value, r, $"{at}.{kv.Name}") is { } e) return e;
                    }
                    else if (props.ValueKind == JsonValueKind.Object && !schema.TryGetProperty("additionalProperties", out _))
                        return $"{at}: property '{kv.Name}' not in 'properties'"; // the converter's documented choice
                    else if (schema.TryGetProperty("additionalProperties", out var ap))
                    {
                        if (Validate(ap, kv.Value, r, $"{at}.{kv.Name}") is { } e) return e;
                    }
                }
                break;
        }
        return null;
    }

    private static bool IsType(JsonElement v, string t) => t switch
    {
        "object" => v.ValueKind == JsonValueKind.Object,
        "array" => v.ValueKind == JsonValueKind.Array,
        "string" => v.ValueKind == JsonValueKind.String,
        "number" => v.ValueKind == JsonValueKind.Number,
        "integer" => v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d == decimal.Truncate(d),
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => v.ValueKind == JsonValueKind.Null,
        _ => false,
    };
}
