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
/// Function calling (<see cref="ToolCallFormat"/>): the tool preamble goes in front of the first user message, after
/// the system text; a <see cref="FunctionCallContent"/> is rendered as the call's JSON in its assistant turn, and a
/// tool message (<see cref="FunctionResultContent"/>) as a user turn. Several calls in one assistant message are one a
/// line, and so are the results of several calls, whether they come in one tool message (as
/// <c>FunctionInvokingChatClient</c> gives them) or in consecutive tool messages (as OpenAI's API does).
/// </summary>
internal static class MistralChatPrompt
{
    public static List<int> Encode(Tokenizer tokenizer, IEnumerable<ChatMessage> messages, string? toolPreamble = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var system = new List<string>();
        // Each turn's messages are joined once at the end (one StringBuilder per run of a role): merging them pairwise
        // would copy the text so far at every message, quadratic in a request of many small same-role messages.
        var runs = new List<(bool User, List<string> Parts)>();
        bool lastWasTool = false;
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal); // call id → function name, for the results
        foreach (var m in messages)
        {
            if (m is null) throw new ArgumentException("A message is null.", nameof(messages));
            string text = TextOf(m, callNames);
            if (m.Role == ChatRole.System) { if (runs.Count > 0) throw new ArgumentException("System messages must come before the conversation.", nameof(messages)); system.Add(text); }
            else if (m.Role == ChatRole.User || m.Role == ChatRole.Assistant || m.Role == ChatRole.Tool)
            {
                bool user = m.Role != ChatRole.Assistant; // a tool's result is the user's turn
                bool tool = m.Role == ChatRole.Tool;
                // The separators are parts too: a blank line between messages of a turn, one newline between
                // consecutive tool messages (results one a line).
                if (runs.Count > 0 && runs[^1].User == user && tool && lastWasTool) runs[^1].Parts.AddRange(["\n", text]);
                else if (runs.Count > 0 && runs[^1].User == user) runs[^1].Parts.AddRange(["\n\n", text]);
                else runs.Add((user, [text]));
                lastWasTool = tool;
            }
            else throw new ArgumentException($"The Mistral chat format has no '{m.Role}' role (only system, user, assistant and tool).", nameof(messages));
        }
        if (runs.Count == 0 || !runs[0].User) throw new ArgumentException("The conversation must start with a user message.", nameof(messages));
        if (toolPreamble is not null) system.Add(toolPreamble);
        if (system.Count > 0) runs[0].Parts.InsertRange(0, system.SelectMany(t => new[] { t, "\n\n" }));
        var turns = runs.Select(r => (r.User, Text: string.Concat(r.Parts))).ToList();

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

    /// <summary>The message's text; with function calls or results, those rendered in order with the text, one a line.</summary>
    private static string TextOf(ChatMessage m, Dictionary<string, string> callNames)
    {
        if (!m.Contents.Any(c => c is FunctionCallContent or FunctionResultContent)) return m.Text;
        var parts = new List<string>();
        foreach (var c in m.Contents)
        {
            switch (c)
            {
                case TextContent t when t.Text.Length > 0: parts.Add(t.Text); break;
                case FunctionCallContent call:
                    callNames[call.CallId] = call.Name;
                    parts.Add(ToolCallFormat.RenderCall(call));
                    break;
                case FunctionResultContent result:
                    parts.Add(ToolCallFormat.RenderResult(result, callNames.GetValueOrDefault(result.CallId)));
                    break;
            }
        }
        return string.Join("\n", parts);
    }
}
