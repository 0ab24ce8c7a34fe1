using System.Text;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Prompts;

/// <summary>
/// The Mistral-Instruct v0.1 chat format that Eurus-7B-KTO uses: <c>&lt;s&gt;[INST] u1 [/INST]a1&lt;/s&gt;[INST] u2 [/INST]</c>,
/// as the Hugging Face chat template writes it (<c>bos + "[INST] " + user + " [/INST]" + assistant + eos …</c>).
/// </summary>
/// <remarks>
/// <c>&lt;s&gt;</c> and <c>&lt;/s&gt;</c> are the tokenizer's BOS and EOS ids, inserted as ids — never tokenized from text, so a
/// user who types "&lt;/s&gt;" gets ordinary characters. The text between two special tokens is tokenized as one piece with
/// the tokenizer's space-prefix rule (a leading <c>▁</c>), which is what both Hugging Face's slow Llama tokenizer and
/// llama.cpp (special-token parsing on) do with the rendered template. A conversation may end with a user message (a
/// prompt for the next reply) or an assistant message (a finished exchange, ending with EOS).
/// </remarks>
public static class MistralChatFormat
{
    /// <summary>Opens a user turn.</summary>
    public const string InstOpen = "[INST] ";

    /// <summary>Closes a user turn; the reply follows directly.</summary>
    public const string InstClose = " [/INST]";

    /// <summary>The text of one user turn: <c>"[INST] " + content + " [/INST]"</c>.</summary>
    public static string UserTurn(string content)
    {
        ArgumentNullException.ThrowIfNull(content);
        return InstOpen + content + InstClose;
    }

    /// <summary>
    /// Token ids of <paramref name="messages"/>: BOS, then per exchange the tokens of
    /// <c>"[INST] {user} [/INST]{assistant}"</c> and EOS after each assistant message.
    /// Throws <see cref="ArgumentException"/> when the roles do not alternate user/assistant starting with a user, or a
    /// system message appears without <see cref="MistralChatOptions.FoldSystemIntoFirstUser"/>.
    /// </summary>
    public static int[] Encode(Tokenizer tokenizer, IReadOnlyList<ChatTurn> messages, MistralChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = new List<int> { tokenizer.BosId };
        foreach (var (user, assistant) in Exchanges(messages, options))
        {
            tokenizer.Encode(UserTurn(user) + (assistant ?? ""), ids, addBos: false);
            if (assistant is not null) ids.Add(tokenizer.EosId);
        }
        return ids.ToArray();
    }

    /// <summary>
    /// The conversation as text, with <c>&lt;s&gt;</c>/<c>&lt;/s&gt;</c> standing for BOS/EOS (for display and logs;
    /// tokenizing this string is NOT the same as <see cref="Encode"/>).
    /// </summary>
    public static string Render(IReadOnlyList<ChatTurn> messages, MistralChatOptions? options = null)
    {
        var sb = new StringBuilder("<s>");
        foreach (var (user, assistant) in Exchanges(messages, options))
        {
            sb.Append(UserTurn(user));
            if (assistant is not null) sb.Append(assistant).Append("</s>");
        }
        return sb.ToString();
    }

    /// <summary>Checks the roles and pairs each user message with the reply that follows it (null for the last, open one).</summary>
    internal static List<(string User, string? Assistant)> Exchanges(IReadOnlyList<ChatTurn> messages, MistralChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new ArgumentException("The conversation is empty.", nameof(messages));
        string? system = null;
        int start = 0;
        if (messages[0] is { Role: TurnRole.System } sys)
        {
            if (options?.FoldSystemIntoFirstUser != true)
                throw new ArgumentException("Mistral-Instruct v0.1 (Eurus) has no system role. Put the instructions in the first user message, " +
                                            "or set MistralChatOptions.FoldSystemIntoFirstUser to have it done for you.", nameof(messages));
            system = sys.Content ?? throw new ArgumentException("Message 0 has null content.", nameof(messages));
            start = 1;
        }
        var result = new List<(string, string?)>();
        for (int i = start; i < messages.Count; i++)
        {
            var m = messages[i] ?? throw new ArgumentException($"Message {i} is null.", nameof(messages));
            if (m.Content is null) throw new ArgumentException($"Message {i} has null content.", nameof(messages));
            var expected = (i - start) % 2 == 0 ? TurnRole.User : TurnRole.Assistant;
            if (m.Role == TurnRole.System)
                throw new ArgumentException($"Message {i} is a system message; only the first message may be one (and only with FoldSystemIntoFirstUser).", nameof(messages));
            if (m.Role != expected)
                throw new ArgumentException($"Message {i} is from the {m.Role.ToString().ToLowerInvariant()} but the {expected.ToString().ToLowerInvariant()} was expected: " +
                                            "roles must alternate user/assistant, starting with the user.", nameof(messages));
            if (m.Role == TurnRole.User)
            {
                string content = system is not null && result.Count == 0 ? FoldSystem(system, m.Content) : m.Content;
                result.Add((content, null));
            }
            else result[^1] = (result[^1].Item1, m.Content);
        }
        if (start == 1 && result.Count == 0)
            throw new ArgumentException("A system message needs a user message after it to be folded into.", nameof(messages));
        return result;
    }

    /// <summary>How an opted-in system prompt joins the first user message.</summary>
    internal static string FoldSystem(string system, string user) => system + "\n\n" + user;
}
