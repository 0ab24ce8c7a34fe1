namespace Eurus.Cpu.Model;

/// <summary>
/// A made-up SentencePiece-style vocabulary for synthetic models: <c>&lt;unk&gt;</c>, <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>,
/// the 256 byte-fallback tokens, then single characters and character pairs (with and without the <c>▁</c> space
/// marker), scored so that longer pieces merge first, padded with unique filler pieces up to the requested size.
/// </summary>
public static class SyntheticVocabulary
{
    /// <summary>SentencePiece token types, as stored in <c>tokenizer.ggml.token_type</c>.</summary>
    public const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6;

    /// <summary>Builds a vocabulary of exactly <paramref name="size"/> tokens (at least 259 + 100).</summary>
    public static (string[] Tokens, float[] Scores, int[] Types) Build(int size)
    {
        if (size < 360) throw new ArgumentOutOfRangeException(nameof(size), size, "A synthetic vocabulary needs at least 360 tokens.");
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<int> { Unknown, Control, Control };
        for (int b = 0; b < 256; b++) { tokens.Add($"<0x{b:X2}>"); types.Add(Byte); }
        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        const string chars = "etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLCUMWFGYPBVKJXQZ0123456789.,;:!?'\"-()[]/";
        void AddPiece(string p)
        {
            if (tokens.Count < size && seen.Add(p)) { tokens.Add(p); types.Add(Normal); }
        }
        AddPiece("▁");
        foreach (char c in chars) AddPiece(c.ToString());
        foreach (char c in chars) AddPiece("▁" + c);
        foreach (char a in chars) foreach (char b in chars) { AddPiece($"{a}{b}"); AddPiece($"▁{a}{b}"); }
        for (int i = 0; tokens.Count < size; i++) AddPiece($"▁tok{i}");
        var scores = new float[tokens.Count];
        // Byte and control tokens score 0; normal pieces: longer pieces score higher so they merge first.
        for (int i = 259; i < scores.Length; i++) scores[i] = -(i - 259) / (float)tokens[i].Length;
        return (tokens.ToArray(), scores, types.ToArray());
    }
}
