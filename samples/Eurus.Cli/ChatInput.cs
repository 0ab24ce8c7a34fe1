namespace Eurus.Cli;

/// <summary>
/// Reads <c>eurus chat</c>'s input: a message is every line up to an empty line, so a pasted multi-line block is one
/// turn; a message that itself has empty lines goes between two lines of <c>"""</c>. A first line that starts with
/// <c>/</c> is a command (<c>//</c> sends a message that starts with <c>/</c>). The end of input (Ctrl-D) ends the chat.
/// </summary>
internal sealed class ChatInput(TextReader reader, TextWriter prompts)
{
    public const string Fence = "\"\"\"";

    /// <summary>The next message or command (<see cref="IsCommand"/>), or null at the end of the input.</summary>
    public (string Text, bool IsCommand)? Read()
    {
        var lines = new List<string>();
        prompts.Write("> ");
        while (true)
        {
            string? line = reader.ReadLine();
            if (line is null) return lines.Count > 0 ? (Join(lines), false) : null;
            if (lines.Count == 0)
            {
                if (line.Trim().Length == 0) { prompts.Write("> "); continue; }
                if (line.Trim() == Fence) return (ReadFenced(), false);
                if (line.StartsWith("//", StringComparison.Ordinal)) line = line[1..];
                else if (line.StartsWith('/')) return (line.Trim(), true);
            }
            else if (line.Trim().Length == 0) return (Join(lines), false);
            lines.Add(line);
            prompts.Write("... ");
        }
    }

    private string ReadFenced()
    {
        var lines = new List<string>();
        prompts.Write("... ");
        string? line;
        while ((line = reader.ReadLine()) is not null && line.Trim() != Fence)
        {
            lines.Add(line);
            prompts.Write("... ");
        }
        return Join(lines);
    }

    private static string Join(List<string> lines) => string.Join('\n', lines).Trim('\n', '\r');
}
