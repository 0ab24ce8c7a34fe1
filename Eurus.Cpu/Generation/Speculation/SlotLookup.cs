using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Generation.Speculation;

/// <summary>
/// Speculative decoding for one sequence of a <see cref="BatchedGenerator"/>: the draft of the current step (its tokens
/// join the step's pass after the sequence's last token) and the counts. Drafts come from prompt lookup or, with
/// <see cref="SpeculativeDecoding.DraftModel"/>, from the slot's <see cref="DraftModelDrafter"/> (kept with the slot,
/// set by <see cref="Use"/> when the sequence starts): greedy at temperature 0, else sampled with the sequence's own
/// sampler (under its grammar, if any), each token's q kept for the verification (<see cref="Sampled"/>).
/// Allocated once per request.
/// </summary>
internal sealed class SlotLookup
{
    private readonly PromptLookup _lookup;
    private readonly int[] _draft;
    private readonly float _draftTemperature;
    private readonly int _vocab;
    private float[] _q = [];
    private DraftLength _length;
    private DraftModelDrafter? _drafter;
    private int _kept;

    public SlotLookup(SpeculativeDecoding settings, int promptBatch, int vocab)
    {
        int max = Math.Max(0, Math.Min(settings.MaxDraftTokens, promptBatch - 1));
        _lookup = new PromptLookup(settings.NgramSize, settings.MinNgramSize);
        _draft = new int[max];
        _length = new DraftLength(max);
        _draftTemperature = settings.DraftTemperature;
        _vocab = vocab;
        if (settings.DraftModel is not null) _q = new float[checked(max * vocab)];
    }

    /// <summary>The current step's draft: <see cref="Count"/> tokens (0: none).</summary>
    public ReadOnlySpan<int> Tokens => _draft.AsSpan(0, Count);
    public int Count;
    public int Drafted, Accepted;

    /// <summary>Whether the current draft was sampled from the draft model's distribution (see <see cref="Distribution"/>).</summary>
    public bool Sampled { get; private set; }

    /// <summary>Drafts with <paramref name="drafter"/> (the slot's, for a draft model) instead of prompt lookup.</summary>
    public void Use(DraftModelDrafter drafter) => _drafter = drafter;

    /// <summary>
    /// Drafts up to <paramref name="max"/> tokens after <paramref name="tokens"/>; returns how many. With a draft model
    /// and a <paramref name="sampler"/> (a temperature) the draft is sampled; a draft model keeps to
    /// <paramref name="grammar"/> if any.
    /// </summary>
    public int Draft(List<int> tokens, int max, Sampler? sampler, Grammars.GrammarConstraint? grammar)
    {
        int n = Math.Min(max, _length.Next());
        var history = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens);
        Sampled = n > 0 && _drafter is not null && sampler is not null;
        Count = n <= 0 ? 0
            : _drafter is null ? _lookup.Draft(history, _draft.AsSpan(0, n))
            : _drafter.Draft(history, _draft.AsSpan(0, n), sampler, _q, grammar, _draftTemperature);
        _kept = 0;
        Drafted += Count;
        return Count;
    }

    /// <summary>The draft token after row <paramref name="row"/> when the draft was sampled (−1: none, or not sampled).</summary>
    public int SampledToken(int row) => Sampled && row < Count ? _draft[row] : -1;

    /// <summary>The distribution q that draft token <paramref name="row"/> was drawn from (a sampled draft).</summary>
    public ReadOnlySpan<float> Distribution(int row) => _q.AsSpan(row * _vocab, _vocab);

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
