using Eurus.Cpu.Model;
using Eurus.Cpu.Sampling;

namespace Eurus.Cpu.Generation.Speculation;

/// <summary>
/// The verification pass of speculative decoding for one sequence: drafts tokens after the sequence, then runs the
/// sequence's last (not yet evaluated) token and the draft through one forward pass, which stores their keys and values
/// and gives the logits after each of them. The caller samples from those logits in order and keeps the draft up to the
/// first token the sampler did not choose; the keys and values stored for the rejected rest stay in the cache as stale
/// entries past the sequence's evaluated length and are overwritten by later passes (no copy, no rollback work).
/// Buffers are sized when a generation begins; a pass allocates nothing.
/// </summary>
internal sealed class SpeculativeStep : IDisposable
{
    private readonly int _vocab;
    private float[] _logits = [];
    private float[] _q = []; // sampled drafts: the draft model's distribution for each draft token, vocabulary-sized rows
    private SequenceToken[] _pass = [];
    private int[] _draft = [];
    private PromptLookup? _lookup; // this generation's prompt lookup (null: it drafts with _draftModel)
    private DraftModelDrafter? _draftModel;
    private int _maxDraft;
    private DraftLength _length;
    private int _kept; // draft tokens of the latest pass accepted so far
    private float _draftTemperature; // SpeculativeDecoding.DraftTemperature (0: the generation's)

    public SpeculativeStep(int vocab) => _vocab = vocab;

    /// <summary>Draft tokens checked, and kept, since <see cref="Begin"/>.</summary>
    public int Drafted { get; private set; }
    public int Accepted { get; private set; }

    /// <summary>Tokens (the last one and the draft) of the latest <see cref="Verify"/>.</summary>
    public int Rows { get; private set; }

    /// <summary>
    /// Whether the latest <see cref="Verify"/>'s draft was sampled from the draft model's distribution (then each row
    /// before the last is sampled with <see cref="DraftToken"/> and <see cref="DraftDistribution"/>).
    /// </summary>
    public bool Sampled { get; private set; }

    /// <summary>Prepares a generation under <paramref name="settings"/>, with passes of at most <paramref name="maxPassTokens"/> tokens.</summary>
    public SpeculativeStep Begin(SpeculativeDecoding settings, EurusModel target, int maxPassTokens)
    {
        _maxDraft = Math.Min(settings.MaxDraftTokens, maxPassTokens - 1);
        int rows = _maxDraft + 1;
        if (_pass.Length < rows)
        {
            _pass = new SequenceToken[rows];
            _draft = new int[rows];
            _logits = GC.AllocateArray<float>(checked(rows * _vocab), pinned: true);
        }
        if (settings.DraftModel is { } model)
        {
            if (_q.Length < _maxDraft * _vocab) _q = new float[checked(_maxDraft * _vocab)];
            if (_draftModel?.Model != model)
            {
                _draftModel?.Dispose();
                _draftModel = new DraftModelDrafter(model, target);
            }
            _lookup = null;
        }
        else _lookup = new PromptLookup(settings.NgramSize, settings.MinNgramSize);
        Drafted = Accepted = 0;
        _draftTemperature = settings.DraftTemperature;
        _length = new DraftLength(_maxDraft);
        return this;
    }

    /// <summary>
    /// Drafts up to <paramref name="maxDraft"/> tokens after <paramref name="tokens"/> (whose last token is the only one
    /// not in <paramref name="cache"/>, at position <c>tokens.Length − 1</c>) and, when there is a draft, runs the last
    /// token and the draft in one pass. Returns the number of rows of logits (1 + draft), or 0 when nothing was drafted
    /// (the caller then evaluates the last token as usual). With a draft model and a <paramref name="sampler"/> (a
    /// temperature, see <see cref="GenerationStep.DraftSampler"/>) the draft is sampled (<see cref="Sampled"/>); a draft
    /// model's drafts keep to <paramref name="grammar"/> (the generation's, null: none) when there is one.
    /// </summary>
    public int Verify(Transformer transformer, KvCache cache, ReadOnlySpan<int> tokens, int maxDraft, Sampler? sampler, Grammars.GrammarConstraint? grammar)
    {
        Rows = 0;
        int k = Math.Min(maxDraft, _length.Next());
        if (k <= 0) return 0;
        Sampled = _lookup is null && sampler is not null;
        k = _lookup is not null ? _lookup.Draft(tokens, _draft.AsSpan(0, k))
            : _draftModel!.Draft(tokens, _draft.AsSpan(0, k), sampler, _q, grammar, _draftTemperature);
        if (k == 0) return 0;
        int pos = tokens.Length - 1;
        _pass[0] = new SequenceToken(tokens[pos], pos, cache, true);
        for (int i = 0; i < k; i++) _pass[i + 1] = new SequenceToken(_draft[i], pos + 1 + i, cache, true);
        transformer.Forward(_pass.AsSpan(0, k + 1), _logits.AsSpan(0, (k + 1) * _vocab));
        Drafted += k;
        _kept = 0;
        return Rows = k + 1;
    }

    /// <summary>The logits after the <paramref name="row"/>-th token of the latest pass.</summary>
    public ReadOnlySpan<float> Logits(int row) => _logits.AsSpan(row * _vocab, _vocab);

    /// <summary>The draft token run at row <paramref name="row"/> + 1 (−1 past the draft).</summary>
    public int DraftToken(int row) => row + 1 < Rows ? _draft[row] : -1;

    /// <summary>The sampled draft's distribution q that <see cref="DraftToken"/>(<paramref name="row"/>) was drawn from.</summary>
    public ReadOnlySpan<float> DraftDistribution(int row) => _q.AsSpan(row * _vocab, _vocab);

    /// <summary>Whether the token sampled from row <paramref name="row"/> equals the draft token run at row + 1 (whose logits are then valid).</summary>
    public bool Accept(int row, int sampled)
    {
        if (row + 1 >= Rows || _draft[row] != sampled)
        {
            _length.Update(Rows - 1, _kept);
            return false;
        }
        Accepted++;
        _kept++;
        return true;
    }

    public void Dispose() => _draftModel?.Dispose();
}
