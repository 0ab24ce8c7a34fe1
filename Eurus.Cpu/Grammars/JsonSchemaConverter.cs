using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Eurus.Cpu.Grammars;

/// <summary>
/// JSON Schema → GBNF (see <see cref="Grammar.JsonSchemaToGbnf"/>). Each schema becomes a rule named after its path
/// (<c>root</c>, <c>root-name</c>, <c>root-tags-item</c>, <c>ref-Person</c>); the JSON primitives are shared rules
/// added when used. Objects list their properties in the schema's order, required ones first; optional ones may be
/// left out. Strings, numbers and whitespace are bounded only where the schema bounds them, except whitespace
/// (at most one newline and 20 indentation characters between tokens) and digits (16 of each part).
/// </summary>
internal sealed class JsonSchemaConverter
{
    private static readonly HashSet<string> Annotations =
        ["title", "description", "examples", "default", "$schema", "$id", "$comment", "readOnly", "writeOnly", "deprecated", "definitions", "$defs"];

    private static readonly Dictionary<string, string> Primitives = new()
    {
        ["space"] = """| " " | "\n" [ \t]{0,20}""",
        ["char"] = """[^"\\\x7F\x00-\x1F] | [\\] (["\\/bfnrt] | "u" [0-9a-fA-F]{4})""",
        ["string"] = """ "\"" char* "\"" space""",
        ["integral-part"] = """[0] | [1-9] [0-9]{0,15}""",
        ["integer"] = """ "-"? integral-part space""",
        ["number"] = """ "-"? integral-part ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? space""",
        ["boolean"] = """("true" | "false") space""",
        ["null"] = """ "null" space""",
        ["value"] = """object | array | string | number | boolean | null""",
        ["object"] = """ "{" space ( string ":" space value ("," space string ":" space value)* )? "}" space""",
        ["array"] = """ "[" space ( value ("," space value)* )? "]" space""",
        ["date"] = """[0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [1-2] [0-9] | "3" [0-1])""",
        ["time"] = """([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])""",
        ["uuid"] = """[0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12}""",
    };

    private static readonly Dictionary<string, string[]> PrimitiveUses = new()
    {
        ["string"] = ["char", "space"], ["integer"] = ["integral-part", "space"], ["number"] = ["integral-part", "space"],
        ["boolean"] = ["space"], ["null"] = ["space"], ["value"] = ["object", "array", "string", "number", "boolean", "null"],
        ["object"] = ["space", "string", "value"], ["array"] = ["space", "value"],
    };

    private readonly Dictionary<string, string> _rules = new(StringComparer.Ordinal); // name → body
    private readonly List<string> _order = [];
    private readonly HashSet<string> _primitives = [];
    private readonly Dictionary<string, string> _refs = new(StringComparer.Ordinal); // "#/$defs/X" → rule

    private JsonElement _root;
    private string _rootName = "root";

    public static string Convert(string schema) => ConvertMany([("root", schema, null)], extraRules: null);

    /// <summary>
    /// Several schemas in one GBNF text: schema i becomes the rule named <c>schemas[i].RuleName</c> (its own rules are
    /// named after it; <c>$ref</c>s resolve within that schema, <c>#</c> to that rule), the primitives are shared, and
    /// <paramref name="extraRules"/> (GBNF lines that may use the primitives named in <paramref name="extraPrimitives"/>)
    /// are added in front. A schema's problem is a <see cref="JsonSchemaGrammarException"/> with its path in that schema,
    /// its message prefixed with the schema's label where it has one.
    /// </summary>
    internal static string ConvertMany(IReadOnlyList<(string RuleName, string Schema, string? Label)> schemas, string? extraRules, params string[] extraPrimitives)
    {
        var c = new JsonSchemaConverter();
        foreach (var p in extraPrimitives) c.Use(p);
        foreach (var (ruleName, schema, label) in schemas)
        {
            ArgumentNullException.ThrowIfNull(schema);
            try { c.AddSchema(ruleName, schema); }
            catch (JsonSchemaGrammarException e) when (label is not null)
            {
                throw new JsonSchemaGrammarException(label + ": " + e.Detail, e.SchemaPath, e.Keyword);
            }
        }
        var sb = new StringBuilder(extraRules);
        foreach (var name in c._order) sb.Append(name).Append(" ::= ").Append(c._rules[name]).Append('\n');
        foreach (var name in Primitives.Keys.Where(c._primitives.Contains)) sb.Append(name).Append(" ::= ").Append(Primitives[name]).Append('\n');
        return sb.ToString();
    }

    /// <summary>Converts <paramref name="schema"/> into rules, its root named <paramref name="ruleName"/>.</summary>
    private void AddSchema(string ruleName, string schema)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(schema, new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e) { throw new JsonSchemaGrammarException("the schema is not valid JSON: " + e.Message, "", null); }
        using (doc)
        {
            _root = doc.RootElement;
            _rootName = ruleName;
            _refs.Clear();
            string body = Visit(doc.RootElement, ruleName, "");
            if (body != ruleName) Add(ruleName, body);
        }
    }

    /// <summary>Returns a GBNF expression for <paramref name="s"/> (usually the name of a rule made for it).</summary>
    private string Visit(JsonElement s, string name, string path)
    {
        if (++_depth > MaxDepth) throw new JsonSchemaGrammarException($"the schema nests (through $ref too) deeper than {MaxDepth}", path, null);
        try { return VisitCore(s, name, path); }
        finally { _depth--; }
    }

    private const int MaxDepth = 256;
    private int _depth;

    private string VisitCore(JsonElement s, string name, string path)
    {
        if (s.ValueKind == JsonValueKind.True) return Use("value");
        if (s.ValueKind == JsonValueKind.False) throw new JsonSchemaGrammarException("the schema 'false' matches nothing", path, null);
        if (s.ValueKind != JsonValueKind.Object) throw new JsonSchemaGrammarException("a schema must be an object or a boolean", path, null);

        foreach (var p in s.EnumerateObject())
            if (!Annotations.Contains(p.Name) && !Supported.Contains(p.Name))
                throw new JsonSchemaGrammarException($"the keyword '{p.Name}' is not supported", path, p.Name);

        if (s.TryGetProperty("$ref", out var refEl)) return Ref(refEl, path);
        if (s.TryGetProperty("const", out var constant)) return Add(name, Literal(constant));
        if (s.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
                throw new JsonSchemaGrammarException("'enum' must be a non-empty array", path, "enum");
            return Add(name, string.Join(" | ", values.EnumerateArray().Select(Literal)));
        }
        foreach (var key in new[] { "anyOf", "oneOf" })
            if (s.TryGetProperty(key, out var alts))
            {
                if (alts.ValueKind != JsonValueKind.Array || alts.GetArrayLength() == 0)
                    throw new JsonSchemaGrammarException($"'{key}' must be a non-empty array", path, key);
                var parts = alts.EnumerateArray().Select((a, i) => Visit(a, $"{name}-{i}", $"{path}/{key}/{i}")).ToList();
                return Add(name, string.Join(" | ", parts));
            }

        if (s.TryGetProperty("type", out var type))
        {
            if (type.ValueKind == JsonValueKind.String) return Add(name, Typed(s, type.GetString()!, name, path));
            if (type.ValueKind == JsonValueKind.Array && type.GetArrayLength() > 0 && type.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String))
                return Add(name, string.Join(" | ", type.EnumerateArray().Select(t => Typed(s, t.GetString()!, name + "-" + t.GetString(), path))));
            throw new JsonSchemaGrammarException("'type' must be a type name or a non-empty array of them", path, "type");
        }
        if (s.TryGetProperty("properties", out _) || s.TryGetProperty("additionalProperties", out _)) return Add(name, Typed(s, "object", name, path));
        if (s.TryGetProperty("items", out _) || s.TryGetProperty("prefixItems", out _)) return Add(name, Typed(s, "array", name, path));
        return Use("value");
    }

    private static readonly HashSet<string> Supported =
        ["type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems", "maxItems", "minLength", "maxLength",
         "enum", "const", "anyOf", "oneOf", "$ref", "format"];

    private string Typed(JsonElement s, string type, string name, string path)
    {
        switch (type)
        {
            case "string": return StringRule(s, path);
            case "integer": return Use("integer");
            case "number": return Use("number");
            case "boolean": return Use("boolean");
            case "null": return Use("null");
            case "object": return ObjectRule(s, name, path);
            case "array": return ArrayRule(s, name, path);
            default: throw new JsonSchemaGrammarException($"unknown type '{type}'", path, "type");
        }
    }

    private string StringRule(JsonElement s, string path)
    {
        if (s.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.String)
        {
            string? inner = f.GetString() switch
            {
                "date" => Use("date"),
                "time" => Use("time"),
                "date-time" => Use("date") + " \"T\" " + Use("time"),
                "uuid" => Use("uuid"),
                _ => null, // other formats are annotations (as JSON Schema 2020-12 has it): any string
            };
            if (inner is not null) { Use("space"); return "\"\\\"\" " + inner + " \"\\\"\" space"; }
        }
        int min = Count(s, "minLength", path) ?? 0;
        int? max = Count(s, "maxLength", path);
        if (max < min) throw new JsonSchemaGrammarException("'maxLength' is below 'minLength'", path, "maxLength");
        if (min == 0 && max is null) return Use("string");
        Use("char"); Use("space");
        return $"\"\\\"\" char{{{min},{(max is int m ? m.ToString(CultureInfo.InvariantCulture) : "")}}} \"\\\"\" space";
    }

    private string ObjectRule(JsonElement s, string name, string path)
    {
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (s.TryGetProperty("required", out var req))
        {
            if (req.ValueKind != JsonValueKind.Array || req.EnumerateArray().Any(r => r.ValueKind != JsonValueKind.String))
                throw new JsonSchemaGrammarException("'required' must be an array of strings", path, "required");
            foreach (var r in req.EnumerateArray()) required.Add(r.GetString()!);
        }
        var props = new List<(string Key, string Rule)>();
        if (s.TryGetProperty("properties", out var properties))
        {
            if (properties.ValueKind != JsonValueKind.Object) throw new JsonSchemaGrammarException("'properties' must be an object", path, "properties");
            foreach (var p in properties.EnumerateObject())
            {
                string rule = Visit(p.Value, $"{name}-{Sanitize(p.Name)}", $"{path}/properties/{Pointer(p.Name)}");
                props.Add((p.Name, Add($"{name}-{Sanitize(p.Name)}-kv", $"{Literal(p.Name)} \":\" space {rule}")));
            }
        }
        foreach (var r in required)
            if (!props.Any(p => p.Key == r)) throw new JsonSchemaGrammarException($"required property '{r}' is not in 'properties'", path, "required");
        string? extra = null; // rule for one additional key-value pair
        bool hasAdditional = s.TryGetProperty("additionalProperties", out var additional);
        if (hasAdditional && additional.ValueKind != JsonValueKind.False)
        {
            string valueRule = additional.ValueKind == JsonValueKind.True ? Use("value") : Visit(additional, name + "-additional", path + "/additionalProperties");
            extra = Add(name + "-additional-kv", $"{Use("string")} \":\" space {valueRule}");
        }
        else if (!hasAdditional && properties.ValueKind == JsonValueKind.Undefined) return Use("object"); // {"type": "object"}: any object
        // ("properties": {} without additionalProperties: no property at all, as a function without parameters declares it)
        Use("space");

        var ordered = props.Where(p => required.Contains(p.Key)).Concat(props.Where(p => !required.Contains(p.Key))).ToList();
        int nRequired = required.Count;
        var body = new StringBuilder("\"{\" space ");
        if (nRequired > 0)
        {
            body.Append(string.Join(" \",\" space ", ordered.Take(nRequired).Select(p => p.Rule)));
            foreach (var p in ordered.Skip(nRequired)) body.Append(" (\",\" space ").Append(p.Rule).Append(")?");
            if (extra is not null) body.Append(" (\",\" space ").Append(extra).Append(")*");
        }
        else
        {
            // No property is required: any subset in order, or nothing. Rule i: the optional properties from i on, the first present.
            var optional = ordered.Select(p => p.Rule).ToList();
            if (extra is not null) optional.Add(extra);
            var alternatives = new List<string>();
            for (int i = 0; i < optional.Count; i++)
            {
                var seq = new StringBuilder(optional[i]);
                for (int j = i + 1; j < optional.Count; j++)
                    seq.Append(" (\",\" space ").Append(optional[j]).Append(j == optional.Count - 1 && extra is not null ? ")*" : ")?");
                if (i == optional.Count - 1 && extra is not null) seq.Append(" (\",\" space ").Append(extra).Append(")*");
                alternatives.Add(seq.ToString());
            }
            if (alternatives.Count > 0) body.Append("( ").Append(string.Join(" | ", alternatives)).Append(" )?");
        }
        body.Append(" \"}\" space");
        return body.ToString();
    }

    private string ArrayRule(JsonElement s, string name, string path)
    {
        Use("space");
        if (s.TryGetProperty("prefixItems", out var prefix))
        {
            if (prefix.ValueKind != JsonValueKind.Array) throw new JsonSchemaGrammarException("'prefixItems' must be an array", path, "prefixItems");
            if (s.TryGetProperty("items", out var it) && it.ValueKind != JsonValueKind.False)
                throw new JsonSchemaGrammarException("'items' after 'prefixItems' is supported only as false (a fixed tuple)", path, "items");
            var parts = prefix.EnumerateArray().Select((p, i) => Visit(p, $"{name}-{i}", $"{path}/prefixItems/{i}")).ToList();
            return "\"[\" space " + string.Join(" \",\" space ", parts) + " \"]\" space";
        }
        string item = s.TryGetProperty("items", out var items) ? Visit(items, name + "-item", path + "/items") : Use("value");
        int min = Count(s, "minItems", path) ?? 0;
        int? max = Count(s, "maxItems", path);
        if (max < min) throw new JsonSchemaGrammarException("'maxItems' is below 'minItems'", path, "maxItems");
        if (max == 0) return "\"[\" space \"]\" space";
        string more = max is int m ? $"{{{Math.Max(0, min - 1)},{m - 1}}}" : min > 1 ? $"{{{min - 1},}}" : "*";
        string list = $"{item} (\",\" space {item}){more}";
        return min == 0 ? $"\"[\" space ( {list} )? \"]\" space" : $"\"[\" space {list} \"]\" space";
    }

    private string Ref(JsonElement r, string path)
    {
        string target = r.ValueKind == JsonValueKind.String ? r.GetString()! : "";
        if (_refs.TryGetValue(target, out var rule)) return rule;
        string[] prefixes = ["#/definitions/", "#/$defs/"];
        var prefixUsed = prefixes.FirstOrDefault(p => target.StartsWith(p, StringComparison.Ordinal));
        if (target == "#") { _refs[target] = _rootName; return _rootName; }
        if (prefixUsed is null)
            throw new JsonSchemaGrammarException($"'$ref' '{target}' is not supported (only '#', '#/definitions/NAME' and '#/$defs/NAME')", path, "$ref");
        string key = Unpointer(target[prefixUsed.Length..]);
        string container = prefixUsed[2..^1];
        if (!_root.TryGetProperty(container, out var defs) || defs.ValueKind != JsonValueKind.Object || !defs.TryGetProperty(key, out var def))
            throw new JsonSchemaGrammarException($"'$ref' '{target}' points to no definition", path, "$ref");
        rule = "ref-" + Sanitize(key);
        for (int i = 1; _rules.ContainsKey(rule); i++) rule = $"ref-{Sanitize(key)}-{i}"; // "a b" and "a-b" both sanitize to a-b
        _refs[target] = rule;
        _rules[rule] = ""; // reserved (a recursive schema refers to itself)
        _order.Add(rule);
        string body = Visit(def, rule, "/" + container + "/" + Pointer(key));
        if (body != rule) _rules[rule] = body;
        return rule;
    }

    /// <summary>Adds rule <paramref name="name"/> (made unique) with <paramref name="body"/> and returns its name.</summary>
    private string Add(string name, string body)
    {
        if (_rules.TryGetValue(name, out var existing))
        {
            if (existing.Length == 0) { _rules[name] = body; return name; } // a reserved $ref rule
            if (existing == body) return name;
            int i = 1;
            while (_rules.ContainsKey($"{name}-{i}")) i++;
            name = $"{name}-{i}";
        }
        _rules[name] = body;
        _order.Add(name);
        return name;
    }

    private string Use(string primitive)
    {
        if (_primitives.Add(primitive) && PrimitiveUses.TryGetValue(primitive, out var uses))
            foreach (var u in uses) Use(u);
        return primitive;
    }

    private static int? Count(JsonElement s, string key, string path)
    {
        if (!s.TryGetProperty(key, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n) || n < 0)
            throw new JsonSchemaGrammarException($"'{key}' must be a non-negative integer", path, key);
        if (n > GbnfParser.MaxRepetition) throw new JsonSchemaGrammarException($"'{key}' above {GbnfParser.MaxRepetition} is not supported", path, key);
        return n;
    }

    /// <summary>A GBNF literal for the compact JSON text of <paramref name="value"/>, followed by optional space.</summary>
    private string Literal(JsonElement value)
    {
        Use("space");
        return GbnfLiteral(Compact(w => value.WriteTo(w))) + " space";
    }

    private string Literal(string key)
    {
        Use("space");
        return GbnfLiteral(Compact(w => w.WriteStringValue(key))) + " space";
    }

    /// <summary>Compact JSON text (non-ASCII characters kept as they are).</summary>
    private static string Compact(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            write(w);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Quotes <paramref name="text"/> as a GBNF string literal.</summary>
    internal static string GbnfLiteral(string text)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in text)
        {
            if (c == '"') sb.Append("\\\"");
            else if (c == '\\') sb.Append("\\\\");
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (c < 0x20) sb.Append("\\x").Append(((int)c).ToString("X2", CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        return sb.Append('"').ToString();
    }

    private static string Sanitize(string key)
    {
        var sb = new StringBuilder();
        foreach (char c in key) sb.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        return sb.Length == 0 ? "x" : sb.ToString();
    }

    private static string Pointer(string key) => key.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
    private static string Unpointer(string key) => key.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
}
