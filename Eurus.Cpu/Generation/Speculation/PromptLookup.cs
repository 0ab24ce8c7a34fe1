namespace Eurus.Cpu.Generation.Speculation;

/// <summary>
/// Prompt lookup (n-gram drafting): the last <c>n</c> tokens of the sequence are searched for earlier in it — the
/// prompt and the text generated so far — longest <c>n</c> first, and the tokens that followed the latest earlier
/// occurrence are the draft. Answers that rewrite code or an equation, or quote their input, repeat long runs of it.
/// Where that continuation reaches the end of the sequence (the occurrence is fewer than <c>draft.Length</c> tokens
/// back: a loop, a run of spaces, a repeated short line), the draft goes on copying from itself — the sequence taken to
/// repeat with that period, as an overlapping copy in LZ77 — instead of stopping short: a one-token period used to give
/// one-token drafts however long the run.
/// </summary>
internal sealed class PromptLookup(int maxNgram, int minNgram)
{
    /// <summary>
    /// Writes up to <c>draft.Length</c> guessed tokens that follow <paramref name="history"/> into
    /// <paramref name="draft"/> and returns how many (0: no guess). Allocates nothing.
    /// </summary>
    public int Draft(ReadOnlySpan<int> history, Span<int> draft)
    {
        int len = history.Length;
        for (int n = Math.Min(maxNgram, len - 1); n >= minNgram; n--)
        {
            var pattern = history[(len - n)..];
            // An earlier occurrence ends before the last token, so at least one token follows it.
            int at = history[..(len - 1)].LastIndexOf(pattern);
            if (at < 0) continue;
            int start = at + n, copied = Math.Min(draft.Length, len - start);
            history.Slice(start, copied).CopyTo(draft);
            // Past the end of the sequence, draft token i follows the period len − start from itself.
            for (int i = copied; i < draft.Length; i++) draft[i] = draft[i - (len - start)];
            return draft.Length;
        }
        return 0;
    }
}
