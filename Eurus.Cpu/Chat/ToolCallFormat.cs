using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Eurus.Cpu.Chat;

/// <summary>
/// Eurus.Cpu's own text format for function calling in the Mistral-Instruct v0.1 prompt. Neither Mistral-7B-v0.1 nor
/// Eurus-7B-KTO was trained on any tool format, so this one is ours, kept plain:
/// <list type="bullet">
/// <item>the tools are described in a preamble in front of the first user message (after any system text), the same
/// text whatever the tool mode, so the cached prompt stays valid across the turns of a function-calling loop;</item>
/// <item>a call is the whole reply, one JSON object <c>{"name": "NAME", "arguments": {…}}</c> (exactly that spacing;
/// the arguments compact JSON), which the sampling grammar enforces (<see cref="ToolPlan.Gbnf"/>);</item>
/// <item>where several calls are allowed (<see cref="ChatOptions.AllowMultipleToolCalls"/>), a reply of several calls is
/// those objects one a line (separated by exactly one <c>\n</c>; at most <see cref="EurusToolCalling.MaxCallsPerReply"/>),
/// and the preamble says so; otherwise a reply is one call;</item>
/// <item>an earlier call is rendered as that same text in its assistant turn (several: one a line), and a function's
/// result as a user turn <c>Function result (NAME): RESULT</c> (RESULT as JSON; a failed call:
/// <c>Function NAME failed: MESSAGE</c>); the results of several calls one a line, in the order they are given.</item>
/// </list>
/// How well a model uses the format depends on the model; the grammar only guarantees the shape.
/// </summary>
internal static class ToolCallFormat
{
    private static readonly JsonWriterOptions s_writer = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The text in front of a call's arguments: <c>{"name": "NAME", "arguments": </c>.</summary>
    public static string CallPrefix(string name) => "{\"name\": " + JsonString(name) + ", \"arguments\": ";

    /// <summary>
    /// The preamble that describes <paramref name="tools"/> and the reply format; with <paramref name="several"/>, also
    /// that several calls go one a line (without, the text is the one-call format's, unchanged).
    /// </summary>
    public static string Preamble(IReadOnlyList<AIFunctionDeclaration> tools, bool several)
    {
        var sb = new StringBuilder("Functions (arguments as JSON Schema):\n");
        foreach (var t in tools)
        {
            sb.Append("- ").Append(t.Name);
            if (!string.IsNullOrWhiteSpace(t.Description)) sb.Append(": ").Append(t.Description.Trim());
            sb.Append("\n  ").Append(SchemaText(t)).Append('\n');
        }
        if (several)
        {
            sb.Append("To call one, reply only {\"name\": NAME, \"arguments\": {...}}; to call several, one such object a line. ");
            sb.Append("Each result comes as \"Function result (NAME): ...\", one a line, in order. Else answer in text.");
        }
        else
        {
            sb.Append("To call one, reply only {\"name\": NAME, \"arguments\": {...}}. ");
            sb.Append("Its result comes as \"Function result (NAME): ...\". Else answer in text.");
        }
        return sb.ToString();
    }

    /// <summary>The compact JSON Schema text of a tool's arguments (any object when it has none).</summary>
    public static string SchemaText(AIFunctionDeclaration tool) =>
        tool.JsonSchema.ValueKind == JsonValueKind.Undefined ? "{\"type\":\"object\"}" : Json(w => tool.JsonSchema.WriteTo(w));

    /// <summary>An earlier call as the assistant wrote it: <c>{"name": "NAME", "arguments": {…}}</c>.</summary>
    public static string RenderCall(FunctionCallContent call) =>
        CallPrefix(call.Name) + Json(w =>
        {
            w.WriteStartObject();
            foreach (var (key, value) in call.Arguments ?? new Dictionary<string, object?>())
            {
                w.WritePropertyName(key);
                WriteValue(w, value);
            }
            w.WriteEndObject();
        }) + "}";

    /// <summary>A function's result as a user turn's text.</summary>
    public static string RenderResult(FunctionResultContent result, string? name)
    {
        name ??= result.CallId;
        if (result.Exception is { } e) return $"Function {name} failed: {e.Message}";
        string value = result.Result is string s ? s : Json(w => WriteValue(w, result.Result));
        return $"Function result ({name}): {value}";
    }

    /// <summary>
    /// The call in <paramref name="reply"/>, or null: the reply must be exactly one call (see <see cref="TryParseCalls"/>).
    /// </summary>
    public static FunctionCallContent? TryParseCall(string reply, IReadOnlyList<AIFunctionDeclaration> tools) =>
        TryParseCalls(reply, tools, several: false) is [var call] ? call : null;

    /// <summary>
    /// The calls in <paramref name="reply"/>, in order, or null: the reply must be exactly one call or, with
    /// <paramref name="several"/>, up to <see cref="EurusToolCalling.MaxCallsPerReply"/> separated by one <c>\n</c>, as the grammar makes them — each one JSON object
    /// whose only members are <c>name</c> (one of <paramref name="tools"/>) and <c>arguments</c> (an object). A reply
    /// cut short (token budget, stop string) is not a call. Each call gets a generated id of its own.
    /// </summary>
    public static IReadOnlyList<FunctionCallContent>? TryParseCalls(string reply, IReadOnlyList<AIFunctionDeclaration> tools, bool several)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(reply);
        var calls = new List<FunctionCallContent>();
        int pos = 0;
        while (true)
        {
            if (pos >= utf8.Length || utf8[pos] != (byte)'{') return null;
            var reader = new Utf8JsonReader(utf8.AsSpan(pos));
            try
            {
                using var doc = JsonDocument.ParseValue(ref reader);
                if (Call(doc.RootElement, tools) is not { } call) return null;
                calls.Add(call);
            }
            catch (JsonException)
            {
                return null;
            }
            pos += (int)reader.BytesConsumed;
            if (pos == utf8.Length) return calls;
            if (!several || calls.Count == EurusToolCalling.MaxCallsPerReply || utf8[pos] != (byte)'\n') return null;
            pos++;
        }
    }

    /// <summary>The call that <paramref name="root"/> is, or null (not <c>{"name", "arguments"}</c> of one of <paramref name="tools"/>).</summary>
    private static FunctionCallContent? Call(JsonElement root, IReadOnlyList<AIFunctionDeclaration> tools)
    {
        if (root.ValueKind != JsonValueKind.Object || root.EnumerateObject().Count() != 2) return null;
        if (!root.TryGetProperty("name", out var nameEl) || nameEl.ValueKind != JsonValueKind.String) return null;
        if (!root.TryGetProperty("arguments", out var args) || args.ValueKind != JsonValueKind.Object) return null;
        string name = nameEl.GetString()!;
        if (!tools.Any(t => t.Name == name)) return null;
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var p in args.EnumerateObject()) arguments[p.Name] = p.Value.Clone();
        return new FunctionCallContent("call_" + Guid.NewGuid().ToString("N")[..24], name, arguments);
    }

    private static string JsonString(string s) => Json(w => w.WriteStringValue(s));

    /// <summary>
    /// Writes <paramref name="value"/> as JSON: a <see cref="JsonElement"/> as it is, anything else through
    /// <see cref="AIJsonUtilities.DefaultOptions"/> (its text where that cannot serialize the type, e.g. under AOT).
    /// </summary>
    private static void WriteValue(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); return;
            case JsonElement j: j.WriteTo(w); return;
            case string s: w.WriteStringValue(s); return;
        }
        System.Text.Json.Serialization.Metadata.JsonTypeInfo info;
        try { info = AIJsonUtilities.DefaultOptions.GetTypeInfo(value.GetType()); }
        catch (NotSupportedException) { w.WriteStringValue(value.ToString()); return; }
        JsonSerializer.Serialize(w, value, info);
    }

    /// <summary>Compact JSON text written by <paramref name="write"/> (non-ASCII characters kept as they are).</summary>
    private static string Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, s_writer)) write(w);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
