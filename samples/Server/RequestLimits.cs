using System.Text;
using System.Text.Json;

namespace Eurus.Server;

/// <summary>
/// The per-request caps of <see cref="ServerOptions"/>. Each breach is a 400 whose message gives the request's value,
/// the limit and the option that sets it (the body size is Kestrel's, a 413: see <see cref="EurusServer"/>).
/// </summary>
internal static class RequestLimits
{
    public static void Messages(int count, ServerOptions o)
    {
        if (count > o.MaxMessages)
            throw ApiException.BadRequest($"The request has {count} messages; this server accepts at most {o.MaxMessages} (--max-messages).",
                "messages", "too_many_messages");
    }

    /// <summary>Adds the UTF-8 size of <paramref name="text"/> to <paramref name="total"/> and checks it.</summary>
    public static void PromptBytes(ref long total, string text, ServerOptions o, string param)
    {
        total += Encoding.UTF8.GetByteCount(text);
        if (total > o.MaxPromptBytes)
            throw ApiException.BadRequest(
                $"The {(param == "messages" ? "messages' text" : param)} is over {o.MaxPromptBytes} UTF-8 bytes, this server's limit (--max-prompt-bytes).",
                param, "prompt_too_large");
    }

    /// <summary>The request's stop strings (a string or an array of strings), within the count and length limits.</summary>
    public static string[] StopStrings(JsonElement stop, ServerOptions o)
    {
        var notStrings = ApiException.BadRequest("'stop' must be a string or an array of strings.", "stop");
        int count = stop.ValueKind switch
        {
            JsonValueKind.Undefined or JsonValueKind.Null => 0,
            JsonValueKind.String => 1,
            JsonValueKind.Array => stop.GetArrayLength(),
            _ => throw notStrings,
        };
        if (count > o.MaxStopStrings)
            throw ApiException.BadRequest($"'stop' has {count} strings; this server accepts at most {o.MaxStopStrings} (--max-stop).",
                "stop", "too_many_stop_strings");
        var stops = new string[count];
        if (stop.ValueKind == JsonValueKind.String) stops[0] = stop.GetString()!;
        else if (count > 0)
        {
            int i = 0;
            foreach (var e in stop.EnumerateArray()) stops[i++] = e.ValueKind == JsonValueKind.String ? e.GetString()! : throw notStrings;
        }
        foreach (var s in stops)
            if (s.Length > o.MaxStopLength)
                throw ApiException.BadRequest($"A stop string has {s.Length} characters; this server accepts at most {o.MaxStopLength} (--max-stop-length).",
                    "stop", "stop_string_too_long");
        return stops;
    }

    /// <summary>
    /// Checks <c>logit_bias</c> (an object of token id → bias from -100 to 100, as OpenAI's): its entry count, ids
    /// and values. The sampler has no logit bias, so a valid one is accepted and not applied.
    /// </summary>
    public static void LogitBias(JsonElement bias, ServerOptions o, int vocab)
    {
        if (bias.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return;
        if (bias.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("'logit_bias' must be an object of token id → bias.", "logit_bias");
        int count = bias.EnumerateObject().Count();
        if (count > o.MaxLogitBias)
            throw ApiException.BadRequest($"'logit_bias' has {count} entries; this server accepts at most {o.MaxLogitBias} (--max-logit-bias).",
                "logit_bias", "too_many_logit_bias_entries");
        foreach (var entry in bias.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id) || id >= vocab)
                throw ApiException.BadRequest($"'logit_bias' key '{entry.Name}' is not a token id (0..{vocab - 1}).", "logit_bias");
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetDouble(out double v) || !(v >= -100 && v <= 100))
                throw ApiException.BadRequest($"'logit_bias' value for token {id} must be a number from -100 to 100.", "logit_bias");
        }
    }
}
