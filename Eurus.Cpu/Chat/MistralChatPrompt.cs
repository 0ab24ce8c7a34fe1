using Eurus.Cpu.Tokenization;
using Microsoft.Extensions.AI;

namespace Eurus.Cpu.Chat;

/// <summary>
/// Turns a conversation into Mistral-Instruct v0.1 prompt tokens: <c>&lt;s&gt;[INST] u1 [/INST]a1&lt;/s&gt;[INST] u2 [/INST]</c>,
/// BOS and EOS as token ids (never parsed from text, so a user cannot inject them). The text between two special
/// tokens is encoded in one piece, as llama.cpp does with the template's output, so the ids match its tokenization.
/// The format has no system role: system text goes in front of the first user message. Consecutive messages of one
/// role are joined with a blank line. A conversation that ends with an assistant message leaves it open, so the model
/// continues that message. Kept small and private to the chat client; a general template engine is another issue's.
/// </summary>
internal static class MistralChatPrompt
{
    public static List<int> Encode(Tokenizer tokenizer, IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var system = new List<string>();
        // Each turn's messages are joined once at the end (one StringBuilder per run of a role): merging them pairwise
        // would copy the text so far at every message, quadratic in a request of many small same-role messages.
        var runs = new List<(bool User, List<string> Parts)>();
        foreach (var m in messages)
        {
            if (m is null) throw new ArgumentException("A message is null.", nameof(messages));
            string text = m.Text;
            if (m.Role == ChatRole.System) { if (runs.Count > 0) throw new ArgumentException("System messages must come before the conversation.", nameof(messages)); system.Add(text); }
            else if (m.Role == ChatRole.User || m.Role == ChatRole.Assistant)
            {
                bool user = m.Role == ChatRole.User;
                if (runs.Count > 0 && runs[^1].User == user) runs[^1].Parts.Add(text);
                else runs.Add((user, [text]));
            }
            else throw new ArgumentException($"The Mistral chat format has no '{m.Role}' role (only system, user and assistant).", nameof(messages));
        }
        if (runs.Count == 0 || !runs[0].User) throw new ArgumentException("The conversation must start with a user message.", nameof(messages));
        if (system.Count > 0) runs[0].Parts.InsertRange(0, system);
        var turns = runs.Select(r => (r.User, Text: string.Join("\n\n", r.Parts))).ToList();

        var ids = new List<int> { tokenizer.BosId };
        for (int i = 0; i < turns.Count; i += 2)
        {
            // One text fragment per special-token gap: "[INST] user [/INST]assistant".
            string fragment = $"[INST] {turns[i].Text} [/INST]";
            bool answered = i + 1 < turns.Count;
            if (answered) fragment += turns[i + 1].Text;
            tokenizer.Encode(fragment, ids, addBos: false);
            if (answered && i + 2 < turns.Count) ids.Add(tokenizer.EosId);
        }
        return ids;
    }
}
