using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Bench;

/// <summary>
/// A 32000-token SentencePiece-style vocabulary (Llama/Mistral's size) grown from the demo model's 4096 tokens: its
/// tokens, byte tokens and control tokens kept, plus deterministic pairs of its ordinary pieces (<c>▁the</c> +
/// <c>re</c>) and punctuation runs, so that pieces have the lengths and shapes of a real vocabulary. Used to measure
/// and test the grammar filter at the real vocabulary size.
/// </summary>
internal static class SyntheticVocabulary
{
    public static Tokenizer Grow(Tokenizer small, int size = 32000)
    {
        var tokens = new List<string>();
        var types = new List<int>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < small.VocabSize; i++)
        {
            tokens.Add(small.GetTokenText(i));
            types.Add((int)small.GetTokenType(i));
            seen.Add(small.GetTokenText(i));
        }
        var normal = Enumerable.Range(0, small.VocabSize).Where(i => small.GetTokenType(i) == TokenType.Normal).Select(small.GetTokenText).ToArray();
        string[] punct = ["{", "}", "[", "]", "\"", ":", ",", ".", "▁", "\n", "(", ")", "-", "'", ";", "0", "1", "\\", "/"];
        var rng = new Random(12345);
        while (tokens.Count < size)
        {
            string t = rng.Next(10) == 0
                ? string.Concat(Enumerable.Range(0, 2 + rng.Next(3)).Select(_ => punct[rng.Next(punct.Length)]))
                : normal[rng.Next(normal.Length)] + normal[rng.Next(normal.Length)].TrimStart('▁');
            if (t.Length > 16 || !seen.Add(t)) continue;
            tokens.Add(t);
            types.Add((int)TokenType.Normal);
        }
        var scores = Enumerable.Range(0, size).Select(i => -(float)i).ToArray();
        return Tokenizer.Create([.. tokens], scores, [.. types], small.BosId, small.EosId, small.UnknownId);
    }
}
