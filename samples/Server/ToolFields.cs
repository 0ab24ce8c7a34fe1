using System.Text.Json;
using Eurus.Cpu.Chat;
using Eurus.Cpu.Grammars;
using Microsoft.Extensions.AI;

namespace Eurus.Server;

/// <summary>
/// OpenAI's function calling on /v1/chat/completions, in Eurus.Cpu's own tool format (<see cref="EurusToolCalling"/>;
/// the model was not trained on any tool format): <c>tools</c> (function tools only), <c>tool_choice</c>
/// (<c>"none"</c>, <c>"auto"</c>, <c>"required"</c> or <c>{"type": "function", "function": {"name": …}}</c>), assistant
/// messages' <c>tool_calls</c> and <c>tool</c> messages (<c>tool_call_id</c> and the result as content), and
/// <c>parallel_tool_calls</c>: true lets a reply hold up to <see cref="EurusToolCalling.MaxCallsPerReply"/> calls, one a
/// line in the library's format; false or absent, one call — llama-server's default and the library's
/// (<c>ChatOptions.AllowMultipleToolCalls</c> unset): the model was not trained on a tool format, and one that does not
/// choose to stop after a call would otherwise fill the reply with calls. Every
/// problem is a 400 naming the field.
/// </summary>
internal static class ToolFields
{
    /// <summary>OpenAI's limit on the tools of one request.</summary>
    public const int MaxTools = 128;

    private static readonly JsonElement s_anyObject = JsonDocument.Parse("""{"type":"object"}""").RootElement.Clone();

    /// <summary>The request's tools and mode, or null without tools. Their schemas count towards the prompt's bytes.</summary>
    public static EurusToolCalling? Read(ChatRequest r, ServerOptions o, ref long bytes)
    {
        var declared = r.Tools;
        bool none = declared.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null
            || declared.ValueKind == JsonValueKind.Array && declared.GetArrayLength() == 0;
        if (none)
        {
            if (r.ToolChoice.ValueKind == JsonValueKind.Object || r.ToolChoice.ValueKind == JsonValueKind.String && r.ToolChoice.GetString() == "required")
                throw ApiException.BadRequest("'tool_choice' asks for a call but the request has no 'tools'.", "tool_choice");
            return null;
        }
        if (declared.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("'tools' must be an array.", "tools");
        if (declared.GetArrayLength() > MaxTools) throw ApiException.BadRequest($"'tools' has {declared.GetArrayLength()} tools; at most {MaxTools} are allowed.", "tools");
        var tools = new List<AITool>();
        foreach (var t in declared.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Object || !t.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                throw ApiException.BadRequest("Each tool must be an object with a string 'type'.", "tools");
            if (type.GetString() != "function")
                throw ApiException.BadRequest($"Tool type '{type.GetString()}' is not supported (only 'function').", "tools");
            if (!t.TryGetProperty("function", out var f) || f.ValueKind != JsonValueKind.Object)
                throw ApiException.BadRequest("A function tool needs a 'function' object.", "tools");
            string name = Name(f, "tools");
            string? description = null;
            if (f.TryGetProperty("description", out var d) && d.ValueKind != JsonValueKind.Null)
                description = d.ValueKind == JsonValueKind.String ? d.GetString() : throw ApiException.BadRequest($"Tool '{name}': 'description' must be a string.", "tools");
            var schema = s_anyObject;
            if (f.TryGetProperty("parameters", out var p) && p.ValueKind != JsonValueKind.Null)
                schema = p.ValueKind == JsonValueKind.Object ? p.Clone() : throw ApiException.BadRequest($"Tool '{name}': 'parameters' must be a JSON Schema object.", "tools");
            RequestLimits.PromptBytes(ref bytes, name + description + schema.GetRawText(), o, "tools");
            tools.Add(AIFunctionFactory.CreateDeclaration(name, description, schema));
        }
        var mode = Mode(r.ToolChoice);
        try
        {
            return EurusToolCalling.Create(tools, mode, allowMultipleCalls: r.ParallelToolCalls ?? false);
        }
        catch (JsonSchemaGrammarException e) { throw ApiException.BadRequest($"'tools': {e.Message}", "tools"); }
        catch (GrammarException e) { throw ApiException.BadRequest($"'tools': {e.Message}", "tools"); }
        catch (ArgumentException e)
        {
            // Two tools of one name, or a required function that is not among the tools.
            string message = e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "");
            throw ApiException.BadRequest(message, message.Contains("required function") ? "tool_choice" : "tools");
        }
    }

    private static ChatToolMode? Mode(JsonElement choice)
    {
        switch (choice.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null: return null;
            case JsonValueKind.String:
                return choice.GetString() switch
                {
                    "none" => ChatToolMode.None,
                    "auto" => ChatToolMode.Auto,
                    "required" => ChatToolMode.RequireAny,
                    var other => throw ApiException.BadRequest($"'tool_choice' '{other}' is not supported (none, auto, required, or {{\"type\": \"function\", \"function\": {{\"name\": …}}}}).", "tool_choice"),
                };
            case JsonValueKind.Object
                when choice.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "function"
                     && choice.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object:
                return ChatToolMode.RequireSpecific(Name(f, "tool_choice"));
            default:
                throw ApiException.BadRequest("'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": …}}.", "tool_choice");
        }
    }

    /// <summary>A function's name: OpenAI's rule, 1 to 64 letters, digits, '_' or '-'.</summary>
    private static string Name(JsonElement function, string param)
    {
        if (!function.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String)
            throw ApiException.BadRequest("A function needs a string 'name'.", param);
        string name = n.GetString()!;
        if (name.Length is < 1 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            throw ApiException.BadRequest($"Function name '{name}' must be 1 to 64 letters, digits, '_' or '-'.", param);
        return name;
    }

    /// <summary>
    /// An assistant message's <c>tool_calls</c> (each <c>{"id", "type": "function", "function": {"name", "arguments"}}</c>,
    /// arguments a JSON object as a string) after its text, or a tool message's result for <c>tool_call_id</c>.
    /// </summary>
    public static ChatMessage Message(ChatMessageDto m, ChatRole role, string text)
    {
        if (role == ChatRole.Tool)
        {
            if (m.ToolCallId is not { Length: > 0 } callId)
                throw ApiException.BadRequest("A 'tool' message needs its 'tool_call_id'.", "messages");
            return new ChatMessage(ChatRole.Tool, [new FunctionResultContent(callId, text)]);
        }
        if (m.ToolCalls.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return new ChatMessage(role, text);
        if (role != ChatRole.Assistant) throw ApiException.BadRequest("Only assistant messages may have 'tool_calls'.", "messages");
        if (m.ToolCalls.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("'tool_calls' must be an array.", "messages");
        var contents = new List<AIContent>();
        if (text.Length > 0) contents.Add(new TextContent(text));
        foreach (var c in m.ToolCalls.EnumerateArray())
        {
            if (c.ValueKind != JsonValueKind.Object || !c.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String
                || !c.TryGetProperty("function", out var f) || f.ValueKind != JsonValueKind.Object
                || c.TryGetProperty("type", out var type) && !(type.ValueKind == JsonValueKind.String && type.GetString() == "function"))
                throw ApiException.BadRequest("Each tool call must be {\"id\": …, \"type\": \"function\", \"function\": {\"name\": …, \"arguments\": …}}.", "messages");
            string name = Name(f, "messages");
            if (!f.TryGetProperty("arguments", out var a) || a.ValueKind != JsonValueKind.String)
                throw ApiException.BadRequest($"The call of '{name}' needs 'arguments' as a string of JSON.", "messages");
            var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
            try
            {
                using var doc = JsonDocument.Parse(a.GetString()!);
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException("not an object");
                foreach (var p in doc.RootElement.EnumerateObject()) arguments[p.Name] = p.Value.Clone();
            }
            catch (JsonException e)
            {
                throw ApiException.BadRequest($"The arguments of the call of '{name}' must be a JSON object ({e.Message}).", "messages");
            }
            contents.Add(new FunctionCallContent(id.GetString()!, name, arguments));
        }
        return new ChatMessage(role, contents);
    }

    /// <summary>
    /// The arguments of a call the reply made (<see cref="EurusToolCalling.ParseCalls"/>: each a <see cref="JsonElement"/>),
    /// as OpenAI sends them: the JSON object as compact text (the whitespace the grammar let the model write between
    /// tokens dropped; strings as they are, non-ASCII characters unescaped).
    /// </summary>
    public static string ArgumentsText(FunctionCallContent call)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            foreach (var (name, value) in call.Arguments ?? new Dictionary<string, object?>())
            {
                w.WritePropertyName(name);
                ((JsonElement)value!).WriteTo(w);
            }
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
