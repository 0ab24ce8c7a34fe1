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
        var turns = new List<(bool User, string Text)>();
        foreach (var m in messages)
        {
            if (m is null) throw new ArgumentException("A message is null.", nameof(messages));
            string text = m.Text;
            if (m.Role == ChatRole.System) { if (turns.Count > 0) throw new ArgumentException("System messages must come before the conversation.", nameof(messages)); system.Add(text); }
            else if (m.Role == ChatRole.User || m.Role == ChatRole.Assistant)
            {
                bool user = m.Role == ChatRole.User;
                if (turns.Count > 0 && turns[^1].User == user) turns[^1] = (user, turns[^1].Text + "\n\n" + text);
                else turns.Add((user, text));
            }
            else throw new ArgumentException($"The Mistral chat format has no '{m.Role}' role (only system, user and assistant).", nameof(messages));
        }
        if (turns.Count == 0 || !turns[0].User) throw new ArgumentException("The conversation must start with a user message.", nameof(messages));
        if (system.Count > 0) turns[0] = (true, string.Join("\n\n", system) + "\n\n" + turns[0].Text);

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
