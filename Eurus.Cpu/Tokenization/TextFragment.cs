namespace Eurus.Cpu.Tokenization;

/// <summary>
/// A piece of the input after user-defined tokens are split out: either raw text (<see cref="Token"/> is -1) or one
/// user-defined token found in the text.
/// </summary>
internal readonly record struct TextFragment(int Start, int Length, int Token)
{
    public bool IsText => Token < 0;

    public static TextFragment Text(int start, int length) => new(start, length, -1);

    /// <summary>
    /// Splits <paramref name="text"/> around every occurrence of the given user-defined tokens, as llama.cpp's
    /// <c>tokenizer_st_partition</c> does with <c>parse_special = false</c>: tokens are taken one after the other in
    /// <paramref name="order"/> (longest text first), and each splits every raw fragment left at its leftmost,
    /// non-overlapping occurrences. Empty raw fragments are dropped.
    /// </summary>
    public static List<TextFragment> Partition(ReadOnlySpan<char> text, int[] order, string[] tokenText)
    {
        var fragments = new List<TextFragment> { Text(0, text.Length) };
        var next = new List<TextFragment>();
        foreach (int id in order)
        {
            var needle = tokenText[id].AsSpan();
            next.Clear();
            foreach (var f in fragments)
            {
                if (!f.IsText)
                {
                    next.Add(f);
                    continue;
                }
                int pos = f.Start, end = f.Start + f.Length;
                while (pos < end)
                {
                    int at = text[pos..end].IndexOf(needle);
                    if (at < 0) break;
                    if (at > 0) next.Add(Text(pos, at));
                    next.Add(new TextFragment(pos + at, needle.Length, id));
                    pos += at + needle.Length;
                }
                if (pos < end) next.Add(Text(pos, end - pos));
            }
            (fragments, next) = (next, fragments);
        }
        return fragments;
    }
}
