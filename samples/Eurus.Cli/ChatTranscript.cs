using System.Text.Json;
using System.Text.Json.Nodes;
using Eurus.Cpu.Prompts;

namespace Eurus.Cli;

/// <summary>
/// <c>/save</c> and <c>/load</c> files: the conversation as JSON text (format "eurus-chat", version 1: the system prompt
/// and the turns as sent, template applied). Loading evaluates the turns again; saving the KV cache itself may come later.
/// </summary>
internal static class ChatTranscript
{
    private const string Format = "eurus-chat";
    private const int Version = 1;

    public static void Save(string path, string? systemPrompt, IReadOnlyList<ChatTurn> turns)
    {
        var list = new JsonArray();
        foreach (var t in turns)
            list.Add(new JsonObject { ["role"] = t.Role == TurnRole.User ? "user" : "assistant", ["content"] = t.Content });
        var o = new JsonObject { ["format"] = Format, ["version"] = Version, ["system"] = systemPrompt, ["turns"] = list };
        File.WriteAllText(path, o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Reads a file <see cref="Save"/> wrote; anything else is a <see cref="FormatException"/> with the reason.</summary>
    public static (string? SystemPrompt, List<ChatTurn> Turns) Load(string path)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new FormatException($"{path} is not JSON ({e.Message})."); }
        if (node is not JsonObject o || Text(o["format"]) != Format)
            throw new FormatException($"{path} is not an eurus chat file (no \"format\": \"{Format}\").");
        if (o["version"] is not JsonValue v || !v.TryGetValue(out int version) || version != Version)
            throw new FormatException($"{path} has an unsupported version (this eurus reads version {Version}).");
        if (o["turns"] is not JsonArray list) throw new FormatException($"{path} has no \"turns\" array.");
        var turns = new List<ChatTurn>(list.Count);
        foreach (var item in list)
        {
            string? content = Text(item?["content"]);
            var turn = Text(item?["role"]) switch
            {
                "user" when content is not null => ChatTurn.User(content),
                "assistant" when content is not null => ChatTurn.Assistant(content),
                _ => throw new FormatException($"{path}: turn {turns.Count + 1} needs a \"role\" (user or assistant) and a \"content\" string."),
            };
            turns.Add(turn);
        }
        return (o["system"] is null ? null : Text(o["system"]) ?? throw new FormatException($"{path}: \"system\" must be a string."), turns);
    }

    private static string? Text(JsonNode? n) => n is JsonValue v && v.TryGetValue(out string? s) ? s : null;
}
