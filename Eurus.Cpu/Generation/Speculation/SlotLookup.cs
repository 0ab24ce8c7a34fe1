using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Generation.Speculation;

/// <summary>
/// Prompt lookup for one sequence of a <see cref="BatchedGenerator"/>: the draft of the current step (its tokens join the
/// step's pass after the sequence's last token) and the counts. Allocated once per request.
/// </summary>
internal sealed class SlotLookup(SpeculativeDecoding settings, int promptBatch)
{
    private readonly PromptLookup _lookup = new(settings.NgramSize, settings.MinNgramSize);
    private readonly int[] _draft = new int[Math.Max(0, Math.Min(settings.MaxDraftTokens, promptBatch - 1))];
    private DraftLength _length = new(Math.Max(0, Math.Min(settings.MaxDraftTokens, promptBatch - 1)));
    private int _kept;

    /// <summary>The current step's draft: <see cref="Count"/> tokens (0: none).</summary>
    public ReadOnlySpan<int> Tokens => _draft.AsSpan(0, Count);
    public int Count;
    public int Drafted, Accepted;

    /// <summary>Drafts up to <paramref name="max"/> tokens after <paramref name="tokens"/>; returns how many.</summary>
    public int Draft(List<int> tokens, int max)
    {
        int n = Math.Min(max, _length.Next());
        Count = n <= 0 ? 0 : _lookup.Draft(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens), _draft.AsSpan(0, n));
        _kept = 0;
        Drafted += Count;
        return Count;
    }

    /// <summary>Whether the token sampled from row <paramref name="row"/> equals the draft token after it (whose row is valid).</summary>
    public bool Accept(int row, int sampled)
    {
        if (row >= Count || _draft[row] != sampled)
        {
            _length.Update(Count, _kept);
            return false;
        }
        Accepted++;
        _kept++;
        return true;
    }
}
