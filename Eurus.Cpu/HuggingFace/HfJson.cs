using System.Text.Json;

namespace Eurus.Cpu.HuggingFace;

/// <summary>Reads the small JSON files of a model folder with size and depth limits, failing with <see cref="HuggingFaceFormatException"/>.</summary>
internal static class HfJson
{
    private const long MaxBytes = 16 << 20;
    private const int MaxDepth = 16;

    /// <summary>Parses <paramref name="path"/>, which must hold a JSON object.</summary>
    public static JsonDocument ReadObject(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxBytes) throw new HuggingFaceFormatException(path, $"the file is {length} bytes, more than the {MaxBytes}-byte limit for JSON.");
        byte[] bytes = File.ReadAllBytes(path);
        // JsonDocument checks UTF-8 only when a string is read; checking up front keeps every failure typed.
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new HuggingFaceFormatException(path, "the file is not valid UTF-8.");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new HuggingFaceFormatException(path, $"invalid JSON: {e.Message}", e);
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new HuggingFaceFormatException(path, "the JSON is not an object.");
        }
        return doc;
    }

    /// <summary>An integer property, or null when absent or JSON null; fails when present with another type.</summary>
    public static long? Int(string path, JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long x)) return x;
        throw new HuggingFaceFormatException(path, $"'{name}' is {v.GetRawText()}, not an integer.");
    }

    /// <summary>A number property, or null when absent or JSON null.</summary>
    public static double? Number(string path, JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double x)) return x;
        throw new HuggingFaceFormatException(path, $"'{name}' is {v.GetRawText()}, not a number.");
    }

    /// <summary>A boolean property, or null when absent or JSON null.</summary>
    public static bool? Bool(string path, JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new HuggingFaceFormatException(path, $"'{name}' is {v.GetRawText()}, not a boolean."),
        };
    }

    /// <summary>A string property, or null when absent or JSON null.</summary>
    public static string? String(string path, JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw new HuggingFaceFormatException(path, $"'{name}' is {v.GetRawText()}, not a string.");
    }
}
